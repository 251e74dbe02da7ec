import ArgumentParser
import DeepSpeech
import Foundation

/// `deepspeech convert`: any supported model file to one memory-mappable `.dsmodel`.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model (.tflite, .pb, .pbmm, TensorFlow checkpoint, deepspeech.pytorch .pth/.ckpt) to swift-deepspeech's own .dsmodel file.",
        discussion: """
        A .dsmodel holds the network's hyperparameters, metadata and alphabet in a JSON header and \
        every weight tensor 64-byte aligned after it, so it loads by mapping the file: no parsing \
        of protobufs or pickles and no copies. int8 .tflite weights stay int8 (the reference \
        engines' arithmetic); the other formats are float32. The layout is in the README \
        ("Model files").
        """)

    @Option(name: .customLong("model"), help: ArgumentHelp("The model to convert.", valueName: "FILE"))
    var model: String

    @Option(name: .customLong("output"), help: ArgumentHelp("The .dsmodel file to write.", valueName: "FILE"))
    var output: String

    @Option(name: .customLong("alphabet"), help: ArgumentHelp("alphabet.txt, stored in the output (required for TensorFlow checkpoints, which store none).", valueName: "FILE"))
    var alphabet: String?

    func run() throws {
        do {
            let speechModel = try SpeechModel(path: model, alphabetPath: alphabet)
            log(speechModel.summary)
            try speechModel.convert(to: output)
            let size = ((try? FileManager.default.attributesOfItem(atPath: output)[.size]) as? NSNumber)?.intValue ?? 0
            log("deepspeech: wrote \(output) (\(size) bytes)")
        } catch { fail("\(error)") }
    }
}
