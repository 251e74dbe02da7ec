// SpeechDecoding: placeholder until its first file lands.
