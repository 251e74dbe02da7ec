// DeepSpeech: placeholder until its first file lands.
