// SpeechModels: placeholder until its first file lands.
