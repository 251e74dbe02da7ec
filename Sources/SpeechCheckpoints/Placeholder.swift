// SpeechCheckpoints: placeholder until its first file lands.
