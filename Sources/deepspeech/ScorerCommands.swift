import ArgumentParser
import DeepSpeech
import Foundation

/// `deepspeech scorer info|build`.
struct ScorerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scorer",
        abstract: "Inspect, build or tune scorer packages (.scorer: KenLM model + vocabulary graph + default alpha/beta).",
        subcommands: [Info.self, Build.self, Tune.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print what a scorer package (or a DeepSpeech 0.6 lm.binary + trie pair, or a trie file alone) holds.")

        @Argument(help: ArgumentHelp("The scorer package, a DeepSpeech 0.6 trie file, or with --trie the KenLM binary.", valueName: "FILE"))
        var scorer: String

        @Option(name: .customLong("trie"), help: ArgumentHelp("DeepSpeech 0.6 trie file (format 5) that goes with the KenLM binary FILE.", valueName: "TRIE"))
        var trie: String?

        static func size(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int).flatMap { $0 } ?? 0 }

        func run() throws {
            do {
                if trie == nil, let head = FileHandle(forReadingAtPath: scorer).flatMap({ try? $0.read(upToCount: 4) }), LegacyTrieFile.hasMagic(head) {
                    let file = try LegacyTrieFile(path: scorer)
                    print("""
                    trie: \(scorer) (\(Self.size(scorer)) bytes), DeepSpeech 0.6 trie file, format version \(LegacyTrieFile.fileVersion)
                    mode: \(file.isUTF8Mode ? "UTF-8 (bytes; each codepoint is a word)" : "alphabet (words end with the space label)")
                    vocabulary: \(file.vocabulary.acceptedSequences().count) words (graph of \(file.vocabulary.stateCount) states, \(file.vocabulary.arcCount) arcs)
                    no language model and no alpha/beta in it: use it with its KenLM binary (deepspeech --lm lm.binary --trie \(scorer))
                    """)
                    return
                }
                let package = try trie.map { try ScorerPackage(languageModelPath: scorer, triePath: $0) } ?? ScorerPackage(path: scorer)
                let lm = package.languageModel
                let words = package.vocabulary.acceptedSequences().count
                let source = trie.map { "scorer: \(scorer) (\(Self.size(scorer)) bytes) + trie \($0) (\(Self.size($0)) bytes), DeepSpeech 0.6 pair, format version 5" }
                    ?? "scorer: \(scorer) (\(Self.size(scorer)) bytes), format version \(ScorerPackage.fileVersion)"
                print("""
                \(source)
                language model: KenLM \(lm.modelType), order \(lm.order), n-gram counts \(lm.counts.map(String.init).joined(separator: " / ")), \(lm.endOfModel) bytes
                mode: \(package.isUTF8Mode ? "UTF-8 (bytes; each codepoint is a word)" : "alphabet (words end with the space label)")
                default alpha \(package.defaultAlpha), beta \(package.defaultBeta)\(trie == nil ? "" : " (the DeepSpeech 0.6 client's; the trie holds none)")
                vocabulary: \(words) words (graph of \(package.vocabulary.stateCount) states, \(package.vocabulary.arcCount) arcs)
                """)
            } catch { fail("\(error)") }
        }
    }

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Package a KenLM binary and a vocabulary into a scorer that this engine, Coqui STT and DeepSpeech 0.7+ load.",
            discussion: "The language model is an ARPA file (written into the package as a KenLM trie, as build_binary -v trie would; pruned ARPAs with missing suffixes need KenLM's build_binary) or a KenLM binary built with build_binary -v (no vocabulary strings), e.g. `build_binary -a 255 -q 8 -v trie lm.arpa lm.binary` for a smaller quantized one. Vocabulary words are the whitespace-separated tokens of --vocab; words with a character outside the alphabet are left out (and counted). UTF-8 mode is chosen when every word is one codepoint, or with --force_utf8.")

        @Option(name: .customLong("lm"), help: ArgumentHelp("ARPA file, or KenLM binary built with -v.", valueName: "FILE"))
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
                // ARPA input: written as a KenLM trie first (what build_binary -v trie writes).
                var binary = lm
                let handle = FileHandle(forReadingAtPath: lm)
                let head = (try? handle?.read(upToCount: 1024)) ?? nil ?? Data()
                try? handle?.close()
                if String(decoding: head, as: UTF8.self).contains("\\data\\") {
                    binary = output + ".lm.tmp"
                    try KenLMTrieWriter.write(try ARPAModel(path: lm), to: binary)
                }
                defer { if binary != lm { try? FileManager.default.removeItem(atPath: binary) } }
                let (states, arcs) = try ScorerPackage.write(languageModel: binary, sequences: vocabulary.sequences, utf8Mode: vocabulary.utf8Mode,
                                                             alpha: alpha, beta: beta, to: output)
                log("deepspeech: wrote \(output): \(vocabulary.sequences.count) words (\(vocabulary.utf8Mode ? "UTF-8" : "alphabet") mode), graph of \(states) states and \(arcs) arcs"
                    + (vocabulary.skipped.isEmpty ? "" : "; left out \(vocabulary.skipped.count) words with characters outside the alphabet (e.g. \(vocabulary.skipped.prefix(3).joined(separator: ", ")))"))
            } catch { fail("\(error)") }
        }
    }

    struct Tune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Search alpha and beta that minimise the word error rate on a manifest of wav,transcript rows.",
            discussion: "The acoustic model runs once per clip; each (alpha, beta) only repeats the beam search. A grid of --steps x --steps values over the ranges, or --trials random pairs (seeded). Prints progress on stderr and a table, best first.")

        @Option(name: .customLong("manifest"), help: ArgumentHelp("CSV: wav,transcript per row (DeepSpeech's wav_filename,wav_filesize,transcript works too).", valueName: "FILE"))
        var manifest: String

        @Option(name: .customLong("scorer"), help: ArgumentHelp("Scorer package, KenLM binary or ARPA file.", valueName: "FILE"))
        var scorer: String

        @Option(name: .customLong("model"), help: ArgumentHelp("Model file; default: the default model.", valueName: "FILE"))
        var model: String?

        @Option(name: .customLong("alpha_range"), help: ArgumentHelp("Alpha range.", valueName: "FROM:TO"))
        var alphaRange = "0:3"

        @Option(name: .customLong("beta_range"), help: ArgumentHelp("Beta range.", valueName: "FROM:TO"))
        var betaRange = "0:3"

        @Option(name: .customLong("steps"), help: ArgumentHelp("Grid values per parameter.", valueName: "N"))
        var steps = 5

        @Option(name: .customLong("trials"), help: ArgumentHelp("Random search with N pairs instead of a grid.", valueName: "N"))
        var trials: Int?

        @Option(name: .customLong("seed"), help: ArgumentHelp("Seed of the random search.", valueName: "N"))
        var seed: UInt64 = 1

        @Option(name: .customLong("beam_width"), help: ArgumentHelp("Beam width while searching (default 100; the model's is 500).", valueName: "N"))
        var beamWidth = 100

        @Option(name: .customLong("top"), help: ArgumentHelp("Rows of the result table.", valueName: "N"))
        var top = 10

        static func range(_ text: String, _ name: String) throws -> ClosedRange<Double> {
            let parts = text.split(separator: ":").compactMap { Double($0) }
            guard parts.count == 2, parts[0] <= parts[1], parts.allSatisfy(\.isFinite) else {
                throw ValidationError("--\(name) takes FROM:TO with FROM <= TO (got \(text))")
            }
            return parts[0]...parts[1]
        }

        func validate() throws {
            _ = try Self.range(alphaRange, "alpha_range")
            _ = try Self.range(betaRange, "beta_range")
            if steps < 1 || steps > 100 { throw ValidationError("--steps must be 1-100") }
            if let trials, trials < 1 { throw ValidationError("--trials must be at least 1") }
            if beamWidth < 1 { throw ValidationError("--beam_width must be at least 1") }
        }

        func run() throws {
            do {
                let clips = try AlphaBetaSearch.readManifest(manifest)
                let speechModel = try SpeechModel(path: try model ?? DefaultModel.path(log: { log($0) }))
                let base = try LanguageModelScorer.load(path: scorer, alphabet: speechModel.alphabet)
                log("deepspeech: running the acoustic model over \(clips.count) clips")
                let search = try AlphaBetaSearch(model: speechModel, clips: clips) { done in
                    if done % 10 == 0 || done == clips.count { log("deepspeech:   \(done)/\(clips.count) clips") }
                }
                let report: (Int, Int, AlphaBetaSearch.Result) -> Void = { i, n, r in
                    log(String(format: "deepspeech: %d/%d alpha %.3f beta %.3f: WER %.2f%%, CER %.2f%%", i, n, r.alpha, r.beta, 100 * r.wordErrorRate, 100 * r.characterErrorRate))
                }
                let alphas = try Self.range(alphaRange, "alpha_range"), betas = try Self.range(betaRange, "beta_range")
                let results = try trials.map { try search.random(base: base, alphas: alphas, betas: betas, trials: $0, seed: seed, beamWidth: beamWidth, progress: report) }
                    ?? search.grid(base: base, alphas: alphas, betas: betas, steps: steps, beamWidth: beamWidth, progress: report)
                print("alpha     beta      WER       CER")
                for r in results.prefix(top) {
                    let wer = String(format: "%.2f%%", 100 * r.wordErrorRate).padding(toLength: 9, withPad: " ", startingAt: 0)
                    print(String(format: "%-9.4f %-9.4f ", r.alpha, r.beta) + wer + " " + String(format: "%.2f%%", 100 * r.characterErrorRate))
                }
                if let best = results.first {
                    print(String(format: "best: --lm_alpha %.4f --lm_beta %.4f (WER %.2f%% on %d clips)", best.alpha, best.beta, 100 * best.wordErrorRate, clips.count))
                }
            } catch { fail("\(error)") }
        }
    }
}
