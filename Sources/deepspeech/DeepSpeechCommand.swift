import ArgumentParser
import DeepSpeech
import Foundation

@main
struct DeepSpeechCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deepspeech",
        abstract: "Speech to text with Mozilla DeepSpeech 0.7-0.9, Coqui STT 1.x and deepspeech.pytorch DeepSpeech2 models, in pure Swift.",
        discussion: "Without a subcommand, deepspeech transcribes: `deepspeech --audio clip.wav` is `deepspeech transcribe --audio clip.wav`.",
        version: Transcribe.version,
        subcommands: [Transcribe.self, Serve.self, Inspect.self, Convert.self, Golden.self, ScorerCommand.self, LMCommand.self],
        defaultSubcommand: Transcribe.self)
}

/// `deepspeech transcribe` (the default subcommand).
struct Transcribe: ParsableCommand {
    static let version = "swift-deepspeech 0.1.0 (reads DeepSpeech 0.7-0.9 / Coqui STT 1.x .tflite, .pb, .pbmm and TensorFlow checkpoints; deepspeech.pytorch .pth/.ckpt)"
    static let configuration = CommandConfiguration(
        commandName: "transcribe",
        abstract: "Transcribe audio files, a directory of them, or raw PCM from a pipe (the default subcommand).",
        discussion: """
        Prints the best transcript of each audio file, one line per file (prefixed with the file \
        name when there are several). Audio may be WAV (8/16/24/32-bit PCM or float), FLAC or \
        OGG/Vorbis at any sample rate and channel count; it is downmixed and resampled to the \
        model's rate, and read block by block, so hour-long files run in constant memory (with \
        progress on stderr). Without --model the default model (armspeech 0.1.4, Armenian) is \
        used and fetched on first use. Errors go to stderr, one line each, and the exit status \
        is non-zero.

        Live transcription from a pipe: \
        sox in.wav -r 16000 -c 1 -b 16 -e signed -t raw - | deepspeech --stream 320 --audio -
        """,
        version: Transcribe.version)

    @Option(name: .customLong("model"), help: ArgumentHelp("Model file: .tflite, .pb, .pbmm, a TensorFlow checkpoint (.index or its prefix; needs --alphabet), a deepspeech.pytorch .pth/.ckpt, or a converted .dsmodel.", valueName: "FILE"))
    var model: String?

    @Option(name: .customLong("audio"), help: ArgumentHelp("Audio file, a directory (every audio file in it is transcribed), or - for raw 16-bit little-endian mono PCM at the model's rate on stdin.", valueName: "FILE|DIR|-"))
    var audio: String

    @Option(name: .customLong("beam_width"), help: ArgumentHelp("Beam width of the prefix beam search (default: the model's, 500 for released models).", valueName: "N"))
    var beamWidth: Int?

    @Option(name: [.customLong("output-format"), .customLong("output_format")],
            help: ArgumentHelp("txt: the best transcript; json: candidates with tokens and words; srt, vtt: subtitles from the word timings.", valueName: "txt|json|srt|vtt"))
    var outputFormat: OutputFormat = .txt

    @Flag(name: .customLong("json"), help: "Same as --output-format json: a JSON object per file with candidates, tokens (text, timestep, start_time) and words (word, start_time, duration).")
    var json = false

    @Option(name: .customLong("candidate_transcripts"), help: ArgumentHelp("Number of candidates in JSON output.", valueName: "N"))
    var candidateTranscripts = 3

    @Option(name: .customLong("stream"), help: ArgumentHelp("Feed the audio in chunks of MS milliseconds through the streaming API and decode after each: txt prints each partial transcript when it changes, then the final one (for a directory, only the final ones); JSON adds \"intermediate\", the partial transcript after every chunk.", valueName: "MS"))
    var streamMilliseconds: Int?

    @Flag(name: .customLong("segment"), help: "Cut the audio into utterances at pauses and transcribe each on its own (constant memory on long recordings): txt prints one line per utterance with its start and end time, JSON one object per utterance.")
    var segment = false

    @Option(name: .customLong("min_pause"), help: ArgumentHelp("With --segment: the shortest silence that ends an utterance, in seconds.", valueName: "SECONDS"))
    var minimumPause = 0.5

    @Option(name: .customLong("scorer"), help: ArgumentHelp("Language model to decode with: a scorer package (.scorer), or a KenLM binary or ARPA file (their own words restrict the vocabulary; alpha and beta default to 0.75 and 1.85).", valueName: "FILE"))
    var scorer: String?

    @Option(name: .customLong("lm"), help: ArgumentHelp("DeepSpeech 0.6 client's flag: the KenLM binary (lm.binary), used with --trie; same as --scorer.", valueName: "FILE"))
    var lm: String?

    @Option(name: .customLong("trie"), help: ArgumentHelp("DeepSpeech 0.6 vocabulary trie (format 5) for the --lm / --scorer KenLM binary; alpha and beta default to 0.75 and 1.85.", valueName: "FILE"))
    var trie: String?

    @Option(name: .customLong("lm_alpha"), help: ArgumentHelp("Language model weight (default: the scorer's).", valueName: "A"))
    var lmAlpha: Double?

    @Option(name: .customLong("lm_beta"), help: ArgumentHelp("Word insertion bonus (default: the scorer's).", valueName: "B"))
    var lmBeta: Double?

    @Option(name: .customLong("hot_words"), help: ArgumentHelp("Words to boost, as word:boost pairs separated by commas (needs --scorer).", valueName: "WORD:BOOST,…"))
    var hotWords: String?

    @Flag(name: .customLong("extended"), help: "Print the best transcript built from the per-token metadata (as the reference client does).")
    var extended = false

    @Option(name: .customLong("alphabet"), help: ArgumentHelp("alphabet.txt to use instead of the one stored in the model.", valueName: "FILE"))
    var alphabet: String?

    @Option(name: .customLong("precision"), help: ArgumentHelp("int8: quantized layers computed as the TFLite runtime does (matches the reference engines); float32: weights dequantized first.", valueName: "int8|float32"))
    var precision: String = "int8"

    @Flag(name: .customLong("no_progress"), help: "Do not report progress on stderr (reported by default for audio longer than a minute).")
    var noProgress = false

    @Flag(name: .customLong("verbose"), help: "Log the model's hyperparameters and per-stage timings to stderr.")
    var verbose = false

    var format: OutputFormat { json ? .json : outputFormat }

    func validate() throws {
        if let beamWidth, beamWidth < 1 { throw ValidationError("--beam_width must be at least 1 (got \(beamWidth))") }
        if candidateTranscripts < 1 { throw ValidationError("--candidate_transcripts must be at least 1 (got \(candidateTranscripts))") }
        if !["int8", "float32"].contains(precision) { throw ValidationError("--precision must be int8 or float32 (got \(precision))") }
        if let ms = streamMilliseconds, ms < 1 || ms > 600_000 { throw ValidationError("--stream must be between 1 and 600000 milliseconds (got \(ms))") }
        if streamMilliseconds != nil && segment { throw ValidationError("--stream and --segment cannot be combined") }
        if !(minimumPause > 0.02 && minimumPause < 60) { throw ValidationError("--min_pause must be between 0.02 and 60 seconds (got \(minimumPause))") }
        if json && outputFormat != .txt && outputFormat != .json { throw ValidationError("--json contradicts --output-format \(outputFormat.rawValue)") }
        if scorer != nil && lm != nil { throw ValidationError("--lm is --scorer under the DeepSpeech 0.6 client's name; give one of them") }
        if trie != nil && scorer == nil && lm == nil { throw ValidationError("--trie needs the language model it was made from (--lm lm.binary)") }
        if scorer == nil && lm == nil && (lmAlpha != nil || lmBeta != nil || hotWords != nil) {
            throw ValidationError("--lm_alpha, --lm_beta and --hot_words need --scorer (or --lm)")
        }
        _ = try parsedHotWords()
    }

    func run() throws {
        let files: [String]
        do { files = try audioFiles(audio) } catch { fail("\(error)") }
        if files.count > 1 && (format == .srt || format == .vtt) {
            fail("\(audio): --output-format \(format.rawValue) writes one subtitle file; pass a single audio file")
        }
        let modelPath: String
        do { modelPath = try model ?? DefaultModel.path(log: { log($0) }) } catch { fail("\(error)") }
        let speechModel: SpeechModel
        do {
            speechModel = try SpeechModel(path: modelPath, precision: precision == "float32" ? .float32 : .int8Hybrid, alphabetPath: alphabet)
        } catch { fail("\(error)") }
        if verbose { log(speechModel.summary) }

        var options = DecodingOptions(beamWidth: beamWidth, candidates: format == .json ? candidateTranscripts : 1)
        if let scorer = scorer ?? lm {
            do {
                let loaded = try LanguageModelScorer.load(path: scorer, trie: trie, alphabet: speechModel.alphabet, alpha: lmAlpha, beta: lmBeta,
                                                          hotWords: try parsedHotWords())
                options.scorer = loaded
                if verbose {
                    log(String(format: "scorer: %@ (%@ mode, order %d, %@ vocabulary), alpha %.4g, beta %.4g, %d hot words", scorer + (trie.map { " + trie " + $0 } ?? ""),
                               loaded.isUTF8Mode ? "UTF-8" : "alphabet", loaded.languageModel.order,
                               loaded.vocabulary == nil ? "no" : "a", loaded.alpha, loaded.beta, loaded.hotWords.count))
                }
            } catch { fail("\(error)") }
        }
        let output = OutputWriter(format: format, labelFiles: files.count > 1)
        var failures = 0
        for file in files {
            do {
                let source: any AudioSource = file == "-"
                    ? try RawPCMStream(sampleRate: speechModel.sampleRate)
                    : try AudioFileStream(path: file)
                let progress = ProgressReporter(name: file, enabled: !noProgress && streamMilliseconds == nil)
                let timings: StageTimings, seconds: Double
                if let ms = streamMilliseconds {
                    let result = try transcribeInChunks(source, model: speechModel, options: options, milliseconds: ms, output: output)
                    output.write(result.final, intermediate: result.intermediate, file: file)
                    (timings, seconds) = (result.final.timings, result.final.audioSeconds)
                } else if segment {
                    var last = 0.0
                    timings = try speechModel.transcribeUtterances(
                        source: source, options: options, pauses: PauseDetector.Options(minimumPause: minimumPause),
                        progress: { progress.report($0); last = $0.processedSeconds },
                        utterance: { output.write($0, file: file) })
                    seconds = last
                } else {
                    let result = try speechModel.transcribe(source: source, options: options, progress: progress.report)
                    output.write(result, intermediate: nil, file: file)
                    (timings, seconds) = (result.timings, result.audioSeconds)
                }
                progress.finish()
                if verbose {
                    log(String(format: "%@: %.2f s of audio in %.3f s (audio %.3f, features %.3f, acoustic model %.3f, decoding %.3f); real-time factor %.3f",
                               file, seconds, timings.total, timings.audio, timings.features, timings.acousticModel, timings.decoding,
                               timings.total / max(seconds, 1e-9)))
                }
            } catch {
                log("deepspeech: error: \(error)")
                failures += 1
            }
        }
        output.finish()
        if failures > 0 { throw ExitCode(1) }
    }

    /// `--hot_words "word:boost,word:boost"` as a dictionary.
    func parsedHotWords() throws -> [String: Float] { try parseHotWords(hotWords) }

    func transcribeInChunks(_ source: any AudioSource, model: SpeechModel, options: DecodingOptions, milliseconds: Int,
                            output: OutputWriter) throws -> (final: Transcription, intermediate: [String]) {
        var input = ModelInputStream(source: source, sampleRate: model.sampleRate)
        var stream = try model.makeStream(options: options)
        let chunkFrames = max(1, source.sampleRate * milliseconds / 1000)
        var intermediate: [String] = []
        var fed = 0
        while let block = try input.next(maxFrames: chunkFrames) {
            stream.feed(block)
            fed += block.count
            let partial = stream.intermediate()
            if partial != intermediate.last ?? "" { output.writePartial(partial) }
            intermediate.append(partial)
        }
        if fed == 0 { throw AudioError(path: source.name, problem: .noSamples) }
        return (stream.finishWithMetadata(), intermediate)
    }

    /// The files to transcribe: `--audio` itself, or the audio files of a directory, sorted.
    func audioFiles(_ audio: String) throws -> [String] {
        if audio == "-" { return ["-"] }
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

}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `--hot_words word:boost,…` as a dictionary.
func parseHotWords(_ hotWords: String?) throws -> [String: Float] {
    guard let hotWords else { return [:] }
    var result: [String: Float] = [:]
    for item in hotWords.split(separator: ",") {
        guard let colon = item.lastIndex(of: ":"), let boost = Float(item[item.index(after: colon)...]), boost.isFinite,
              !item[..<colon].isEmpty else {
            throw ValidationError("--hot_words takes word:boost pairs separated by commas, e.g. \"hello:5,world:2.5\" (got '\(item)')")
        }
        result[String(item[..<colon])] = boost
    }
    return result
}

func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

func fail(_ message: String) -> Never {
    log("deepspeech: error: \(message)")
    Foundation.exit(1)
}
