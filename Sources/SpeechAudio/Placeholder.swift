// SpeechAudio: placeholder until its first file lands.
