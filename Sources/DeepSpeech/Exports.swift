// `import DeepSpeech` brings every stage's public types: audio reading, features, the typed
// acoustic model, and the decoders.
@_exported import SpeechAudio
@_exported import SpeechFeatures
@_exported import SpeechCheckpoints
@_exported import SpeechModels
@_exported import SpeechDecoding
@_exported import SpeechLanguageModel
