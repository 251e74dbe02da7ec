// Transcribes one file through the DeepSpeech library product and prints the transcript on
// stdout; the model summary (with the int8 kernel chosen for this CPU) and the timing on stderr.
import DeepSpeech
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: Consumer MODEL AUDIO\n".utf8))
    exit(2)
}
do {
    let model = try SpeechModel(path: arguments[1])
    FileHandle.standardError.write(Data((model.summary + "\n").utf8))
    let samples = try ModelInput.load(path: arguments[2], sampleRate: model.sampleRate)
    let result = try model.transcribeWithMetadata(samples)
    let seconds = Double(samples.count) / Double(model.sampleRate)
    FileHandle.standardError.write(Data(String(format: "consumer: %.2f s of audio in %.3f s (acoustic model %.3f s)\n",
                                               seconds, result.timings.total, result.timings.acousticModel).utf8))
    print(result.text)
} catch {
    FileHandle.standardError.write(Data("consumer: \(error)\n".utf8))
    exit(1)
}
