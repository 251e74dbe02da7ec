import ArgumentParser
import DeepSpeech
import Foundation

/// `deepspeech inspect`: what a model file holds.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's format, metadata, feature parameters and layers (sizes, parameters, quantization, bytes).",
        discussion: "With --tensors, also every tensor stored in the file with its shape, type, size and CRC-32 (the value of Python's zlib.crc32 on its bytes).")

    @Option(name: .customLong("model"), help: ArgumentHelp("Model file (.tflite, .pb, .pbmm, checkpoint .index, .pth, .ckpt, .dsmodel); default: the default model.", valueName: "FILE"))
    var model: String?

    @Option(name: .customLong("alphabet"), help: ArgumentHelp("alphabet.txt, for files that store none (TensorFlow checkpoints).", valueName: "FILE"))
    var alphabet: String?

    @Flag(name: .customLong("tensors"), help: "List every stored tensor.")
    var tensors = false

    @Option(name: .customLong("audio"), help: ArgumentHelp("Audio to run through the model for --dump (at most 2 minutes).", valueName: "FILE"))
    var audio: String?

    @Option(name: .customLong("dump"), help: ArgumentHelp("Write every stage for --audio as NumPy .npy files (DeepSpeech: samples, power_spectrum, mfcc, context_windows, layer_1 … layer_3, lstm_gates, lstm_c, lstm_h, layer_5, layer_6, probabilities; DeepSpeech2: samples, spectrogram, conv_1, conv_2, rnn_0 …, lookahead, logits, probabilities), the beam's best prefixes per step (beam.json) and index.json.", valueName: "DIR"))
    var dump: String?

    @Option(name: .customLong("plot"), help: ArgumentHelp("Write SVG figures for --audio: waveform with word boundaries, spectrogram, MFCC, a heat map per layer, and the CTC posteriorgram with the decoded tokens and words.", valueName: "DIR"))
    var plot: String?

    @Flag(name: .customLong("json"), help: "Print one JSON object instead of text.")
    var json = false

    @Option(name: .customLong("precision"), help: ArgumentHelp("Report the loaded size for int8 (default) or float32 arithmetic.", valueName: "int8|float32"))
    var precision: String = "int8"

    func validate() throws {
        if audio != nil && dump == nil && plot == nil { throw ValidationError("--audio needs --dump DIR or --plot DIR") }
        if audio == nil && (dump != nil || plot != nil) { throw ValidationError("--dump and --plot need --audio FILE") }
        if !["int8", "float32"].contains(precision) { throw ValidationError("--precision must be int8 or float32 (got \(precision))") }
    }

    func run() throws {
        let inspection: ModelInspection
        do {
            let path = try model ?? DefaultModel.path(log: { log($0) })
            let speechModel = try SpeechModel(path: path, precision: precision == "float32" ? .float32 : .int8Hybrid, alphabetPath: alphabet)
            inspection = try ModelInspection(model: speechModel, includeTensors: tensors)
        } catch { fail("\(error)") }
        if let audio {
            do {
                let speechModel = try SpeechModel(path: inspection.path, precision: precision == "float32" ? .float32 : .int8Hybrid, alphabetPath: alphabet)
                let recording = try speechModel.record(try ModelInput.load(path: audio, sampleRate: speechModel.sampleRate))
                if let dump {
                    try recording.write(to: dump)
                    log("deepspeech: wrote \(recording.stages.count) stages of \(audio) to \(dump) (index.json lists them)")
                }
                if let plot {
                    let files = try Figures.write(recording, sampleRate: speechModel.sampleRate, stepSeconds: speechModel.secondsPerFrame,
                                                  alphabet: speechModel.alphabet, to: plot)
                    log("deepspeech: wrote \(files.count) figures to \(plot): \(files.joined(separator: ", "))")
                }
            } catch { fail("\(error)") }
            return
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
            let data = (try? encoder.encode(inspection)) ?? Data("{}".utf8)
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(inspection.text)
        }
    }
}
