import ArgumentParser
import DeepSpeech
import Foundation

/// `deepspeech scorer info|build`.
struct ScorerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scorer",
        abstract: "Inspect or build scorer packages (.scorer: KenLM model + vocabulary graph + default alpha/beta).",
        subcommands: [Info.self, Build.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print what a scorer package holds.")

        @Argument(help: ArgumentHelp("The scorer package.", valueName: "FILE"))
        var scorer: String

        func run() throws {
            do {
                let package = try ScorerPackage(path: scorer)
                let lm = package.languageModel
                let words = package.vocabulary.acceptedSequences().count
                print("""
                scorer: \(scorer) (\((try? FileManager.default.attributesOfItem(atPath: scorer)[.size] as? Int).flatMap { $0 } ?? 0) bytes), format version \(ScorerPackage.fileVersion)
                language model: KenLM \(lm.modelType), order \(lm.order), n-gram counts \(lm.counts.map(String.init).joined(separator: " / ")), \(lm.endOfModel) bytes
                mode: \(package.isUTF8Mode ? "UTF-8 (bytes; each codepoint is a word)" : "alphabet (words end with the space label)")
                default alpha \(package.defaultAlpha), beta \(package.defaultBeta)
                vocabulary: \(words) words (graph of \(package.vocabulary.stateCount) states, \(package.vocabulary.arcCount) arcs)
                """)
            } catch { fail("\(error)") }
        }
    }

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Package a KenLM binary and a vocabulary into a scorer that this engine, Coqui STT and DeepSpeech 0.7+ load.",
            discussion: "The language model must be a KenLM binary built with build_binary -v (no vocabulary strings), e.g. `build_binary -a 255 -q 8 -v trie lm.arpa lm.binary`. Vocabulary words are the whitespace-separated tokens of --vocab; words with a character outside the alphabet are left out (and counted). UTF-8 mode is chosen when every word is one codepoint, or with --force_utf8.")

        @Option(name: .customLong("lm"), help: ArgumentHelp("KenLM binary (built with -v).", valueName: "FILE"))
        var lm: String

        @Option(name: .customLong("vocab"), help: ArgumentHelp("Vocabulary: whitespace-separated words.", valueName: "FILE"))
        var vocab: String

        @Option(name: .customLong("alphabet"), help: ArgumentHelp("alphabet.txt of the acoustic model.", valueName: "FILE"))
        var alphabet: String?

        @Option(name: .customLong("model"), help: ArgumentHelp("Take the alphabet from this model instead.", valueName: "FILE"))
        var model: String?

        @Option(name: .customLong("alpha"), help: ArgumentHelp("Default language model weight.", valueName: "A"))
        var alpha: Float

        @Option(name: .customLong("beta"), help: ArgumentHelp("Default word insertion bonus.", valueName: "B"))
        var beta: Float

        @Flag(name: .customLong("force_utf8"), help: "Build a UTF-8 (bytes) mode scorer whatever the words look like.")
        var forceUTF8 = false

        @Option(name: .customLong("output"), help: ArgumentHelp("The scorer package to write.", valueName: "FILE"))
        var output: String

        func validate() throws {
            if (alphabet == nil) == (model == nil) { throw ValidationError("give exactly one of --alphabet and --model") }
            if !alpha.isFinite || !beta.isFinite { throw ValidationError("--alpha and --beta must be finite numbers") }
        }

        func run() throws {
            do {
                let labels: Alphabet
                if let alphabet {
                    labels = try Alphabet(contentsOf: URL(fileURLWithPath: alphabet))
                } else {
                    labels = try SpeechModel(path: model!).alphabet
                }
                guard let text = FileManager.default.contents(atPath: vocab) else { throw CLIError("\(vocab): cannot read the vocabulary") }
                let words = String(decoding: text, as: UTF8.self).split(whereSeparator: { $0.isWhitespace }).map(String.init)
                guard !words.isEmpty else { throw CLIError("\(vocab): the vocabulary is empty") }
                let vocabulary = try ScorerVocabulary.sequences(words: words, alphabet: labels, forceUTF8: forceUTF8)
                let (states, arcs) = try ScorerPackage.write(languageModel: lm, sequences: vocabulary.sequences, utf8Mode: vocabulary.utf8Mode,
                                                             alpha: alpha, beta: beta, to: output)
                log("deepspeech: wrote \(output): \(vocabulary.sequences.count) words (\(vocabulary.utf8Mode ? "UTF-8" : "alphabet") mode), graph of \(states) states and \(arcs) arcs"
                    + (vocabulary.skipped.isEmpty ? "" : "; left out \(vocabulary.skipped.count) words with characters outside the alphabet (e.g. \(vocabulary.skipped.prefix(3).joined(separator: ", ")))"))
            } catch { fail("\(error)") }
        }
    }
}
