// SpeechNumerics: placeholder until its first file lands.
