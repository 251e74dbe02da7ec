// SpeechFeatures: placeholder until its first file lands.
