import ArgumentParser
import DeepSpeech
import Foundation

@main
struct DeepSpeechCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deepspeech",
        abstract: "Speech to text with Mozilla DeepSpeech 0.7-0.9 and Coqui STT 1.x models, in pure Swift.",
        discussion: """
        Prints the best transcript of each audio file, one line per file (prefixed with the file \
        name when there are several). Audio may be WAV (8/16/24/32-bit PCM or float), FLAC or \
        OGG/Vorbis at any sample rate and channel count; it is downmixed and resampled to the \
        model's rate. Without --model the default model (armspeech 0.1.4, Armenian) is used and \
        fetched on first use. Errors go to stderr, one line each, and the exit status is non-zero.
        """,
        version: "swift-deepspeech 0.1.0 (reads DeepSpeech 0.7-0.9 / Coqui STT 1.x .tflite models)")

    @Option(name: .customLong("model"), help: ArgumentHelp("Model file (.tflite).", valueName: "FILE"))
    var model: String?

    @Option(name: .customLong("audio"), help: ArgumentHelp("Audio file, or a directory: every audio file in it is transcribed.", valueName: "FILE|DIR"))
    var audio: String

    @Option(name: .customLong("beam_width"), help: ArgumentHelp("Beam width of the prefix beam search (default: the model's, 500 for released models).", valueName: "N"))
    var beamWidth: Int?

    @Flag(name: .customLong("json"), help: "Print a JSON object per file with candidates, tokens (text, timestep, start_time) and words (word, start_time, duration).")
    var json = false

    @Option(name: .customLong("candidate_transcripts"), help: ArgumentHelp("Number of candidates in --json output.", valueName: "N"))
    var candidateTranscripts = 3

    @Flag(name: .customLong("extended"), help: "Print the best transcript built from the per-token metadata (as the reference client does).")
    var extended = false

    @Option(name: .customLong("alphabet"), help: ArgumentHelp("alphabet.txt to use instead of the one stored in the model.", valueName: "FILE"))
    var alphabet: String?

    @Option(name: .customLong("precision"), help: ArgumentHelp("int8: quantized layers computed as the TFLite runtime does (matches the reference engines); float32: weights dequantized first.", valueName: "int8|float32"))
    var precision: String = "int8"

    @Flag(name: .customLong("verbose"), help: "Log the model's hyperparameters and per-stage timings to stderr.")
    var verbose = false

    func validate() throws {
        if let beamWidth, beamWidth < 1 { throw ValidationError("--beam_width must be at least 1 (got \(beamWidth))") }
        if candidateTranscripts < 1 { throw ValidationError("--candidate_transcripts must be at least 1 (got \(candidateTranscripts))") }
        if !["int8", "float32"].contains(precision) { throw ValidationError("--precision must be int8 or float32 (got \(precision))") }
    }

    func run() throws {
        let files: [String]
        do { files = try audioFiles() } catch { fail("\(error)") }
        let modelPath: String
        do { modelPath = try model ?? DefaultModel.path(log: { log($0) }) } catch { fail("\(error)") }
        let speechModel: SpeechModel
        do {
            speechModel = try SpeechModel(path: modelPath, precision: precision == "float32" ? .float32 : .int8Hybrid, alphabetPath: alphabet)
        } catch { fail("\(error)") }
        if verbose { log(speechModel.summary) }

        let options = DecodingOptions(beamWidth: beamWidth, candidates: json ? candidateTranscripts : 1)
        let several = files.count > 1
        var failures = 0
        for file in files {
            let result: Transcription
            do { result = try speechModel.transcribe(file: file, options: options) } catch {
                log("deepspeech: error: \(error)")
                failures += 1
                continue
            }
            if verbose {
                let t = result.timings
                log(String(format: "%@: %.2f s of audio in %.3f s (audio %.3f, features %.3f, acoustic model %.3f, decoding %.3f); real-time factor %.3f",
                           file, result.audioSeconds, t.total, t.audio, t.features, t.acousticModel, t.decoding,
                           t.total / max(result.audioSeconds, 1e-9)))
            }
            if json {
                print(jsonLine(result, file: several ? file : nil))
            } else {
                print(several ? "\(file): \(result.text)" : result.text)
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// The files to transcribe: `--audio` itself, or the audio files of a directory, sorted.
    func audioFiles() throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: audio, isDirectory: &isDirectory) else {
            throw CLIError("\(audio): no such file or directory")
        }
        guard isDirectory.boolValue else { return [audio] }
        let extensions: Set<String> = ["wav", "wave", "flac", "ogg", "oga", "opus", "aiff", "aif", "au", "mp3", "caf", "w64"]
        let names = try FileManager.default.contentsOfDirectory(atPath: audio)
            .filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }
            .sorted()
        guard !names.isEmpty else { throw CLIError("\(audio): the directory has no audio files (\(extensions.sorted().joined(separator: ", ")))") }
        return names.map { (audio as NSString).appendingPathComponent($0) }
    }

    func jsonLine(_ result: Transcription, file: String?) -> String {
        struct Output: Encodable {
            var file: String?
            var transcripts: [Candidate]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]   // deterministic; matches the reference order for transcripts
        let data = (try? encoder.encode(Output(file: file, transcripts: result.candidates))) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

func fail(_ message: String) -> Never {
    log("deepspeech: error: \(message)")
    Foundation.exit(1)
}
