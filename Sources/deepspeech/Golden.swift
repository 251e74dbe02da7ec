import ArgumentParser
import DeepSpeech
import Foundation

/// `deepspeech golden record|check`: pin a model's outputs and check them later.
struct Golden: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record golden outputs (every stage's fingerprint and the transcripts) and check a build against them.",
        subcommands: [Record.self, Check.self])

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the model on audio files and store each stage's shape, statistics, CRC-32 and row/column sums, and the transcripts.")

        @Option(name: .customLong("model"), help: ArgumentHelp("Model file (any format transcribe reads); default: the default model.", valueName: "FILE"))
        var model: String?

        @Option(name: .customLong("alphabet"), help: ArgumentHelp("alphabet.txt, for files that store none (TensorFlow checkpoints).", valueName: "FILE"))
        var alphabet: String?

        @Option(name: .customLong("audio"), help: ArgumentHelp("An audio file (at most 2 minutes); repeat for several.", valueName: "FILE"))
        var audio: [String] = []

        @Option(name: .customLong("output"), help: ArgumentHelp("The golden file to write (JSON).", valueName: "FILE"))
        var output: String

        @Option(name: .customLong("beam_width"), help: ArgumentHelp("Beam width (default: the model's).", valueName: "N"))
        var beamWidth: Int?

        @Option(name: .customLong("precision"), help: ArgumentHelp("int8 or float32.", valueName: "int8|float32"))
        var precision: String = "int8"

        @Flag(name: .customLong("full"), help: "Also store every stage's full tensor as .npy in <output>.tensors/ (about 15 MB per 3 s clip); check then compares element by element.")
        var full = false

        func validate() throws {
            if audio.isEmpty { throw ValidationError("give at least one --audio file") }
            if !["int8", "float32"].contains(precision) { throw ValidationError("--precision must be int8 or float32 (got \(precision))") }
            if let beamWidth, beamWidth < 1 { throw ValidationError("--beam_width must be at least 1 (got \(beamWidth))") }
        }

        func run() throws {
            do {
                let path = try model ?? DefaultModel.path(log: { log($0) })
                let speechModel = try SpeechModel(path: path, precision: precision == "float32" ? .float32 : .int8Hybrid, alphabetPath: alphabet)
                let golden = try GoldenOutputs.record(model: speechModel, audioFiles: audio,
                                                      options: DecodingOptions(beamWidth: beamWidth, candidates: 3),
                                                      fullTensorsNextTo: full ? output : nil)
                try golden.write(to: output)
                log("deepspeech: recorded \(golden.audio.count) file(s), \(golden.audio.first?.stages.count ?? 0) stages each, to \(output)")
            } catch { fail("\(error)") }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the golden file's audio and compare stage by stage; exit status 0 when every stage is within tolerance, 1 otherwise, naming the first stage that drifted.")

        @Argument(help: ArgumentHelp("The golden file.", valueName: "GOLDEN.json"))
        var golden: String

        @Option(name: .customLong("model"), help: ArgumentHelp("Model to check (default: the one the golden file names).", valueName: "FILE"))
        var model: String?

        @Option(name: .customLong("alphabet"), help: ArgumentHelp("alphabet.txt, for files that store none (TensorFlow checkpoints).", valueName: "FILE"))
        var alphabet: String?

        @Option(name: .customLong("precision"), help: ArgumentHelp("int8 or float32 (default: the golden file's).", valueName: "int8|float32"))
        var precision: String?

        @Option(name: .customLong("tolerance"), help: ArgumentHelp("Override a stage's tolerance, e.g. layer_1=1e-4,1e-3 (absolute, relative); repeatable.", valueName: "STAGE=ABS,REL"))
        var tolerance: [String] = []

        @Flag(name: .customLong("json"), help: "Print the report as JSON.")
        var json = false

        func overrides() throws -> [String: GoldenOutputs.Tolerance] {
            var result: [String: GoldenOutputs.Tolerance] = [:]
            for item in tolerance {
                let parts = item.split(separator: "=", maxSplits: 1)
                let values = parts.count == 2 ? parts[1].split(separator: ",").compactMap { Double($0) } : []
                guard parts.count == 2, values.count == 2, values.allSatisfy({ $0 >= 0 }) else {
                    throw ValidationError("--tolerance takes STAGE=ABS,REL with two non-negative numbers (got \(item))")
                }
                result[String(parts[0])] = GoldenOutputs.Tolerance(absolute: values[0], relative: values[1])
            }
            return result
        }

        func validate() throws {
            _ = try overrides()
            if let precision, !["int8", "float32"].contains(precision) { throw ValidationError("--precision must be int8 or float32 (got \(precision))") }
        }

        func run() throws {
            let report: GoldenOutputs.Report
            do {
                let file = try GoldenOutputs(contentsOf: golden)
                let chosen = precision ?? file.precision
                let speechModel = try SpeechModel(path: model ?? file.model, precision: chosen == "float32" ? .float32 : .int8Hybrid, alphabetPath: alphabet)
                report = try file.check(model: speechModel, overriding: try overrides(), goldenPath: golden)
            } catch { fail("\(error)") }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
                print(String(decoding: (try? encoder.encode(report)) ?? Data(), as: UTF8.self))
            } else {
                print(report.text)
            }
            if !report.passed { throw ExitCode(1) }
        }
    }
}
