import Foundation
import SpeechNumerics

/// A loaded speech-to-text model: immutable, `Sendable`, loaded once and shared by any number
/// of callers and threads. Each transcription (or `SpeechStream`) keeps its own state.
///
/// ```swift
/// let model = try SpeechModel(path: "Weights/armspeech.tflite")
/// print(try model.transcribe(file: "clip.wav").text)
/// ```
public final class SpeechModel: Sendable {
    /// The acoustic network a file holds (``AcousticNetwork``).
    public typealias Network = AcousticNetwork

    /// The file the model was loaded from.
    public let path: String
    public let network: Network
    /// Labels of the output classes without the CTC blank. The decoder always sees the blank
    /// last: for networks whose blank is elsewhere (DeepSpeech2: first), ``probabilities(_:)``
    /// moves its column to the end.
    public let alphabet: Alphabet
    /// The MFCC front end configured from the model's metadata (DeepSpeech only).
    public let features: FeatureExtractor?
    /// The spectrogram front end (DeepSpeech2 only).
    public let spectrogram: LogSpectrogram?

    /// The DeepSpeech 0.x / Coqui network, or nil for DeepSpeech2.
    public var acoustic: DeepSpeechModel? {
        if case .deepSpeech(let m) = network { return m }
        return nil
    }

    /// Whether audio can be decoded as it arrives (DeepSpeech); DeepSpeech2 checkpoints are run
    /// over the whole utterance at once (their bidirectional layers need its end).
    public var isStreaming: Bool { acoustic != nil }

    public let sampleRate: Int
    /// The beam width stored in the model (used when `DecodingOptions.beamWidth` is nil).
    public let defaultBeamWidth: Int
    /// Seconds of audio per output frame (20 ms for DeepSpeech; the spectrogram step times
    /// the convolutions' time stride, 20 ms, for DeepSpeech2).
    public let secondsPerFrame: Double
    /// Output classes, the blank included.
    public var classCount: Int { alphabet.size + 1 }
    /// The file format, in words.
    public var format: String {
        switch network {
        case .deepSpeech(let m): return m.format
        case .deepSpeech2(let m): return m.configuration.format
        }
    }

    /// Loads a model file: TensorFlow Lite (`.tflite`), a frozen or memory-mapped TensorFlow
    /// graph (`.pb`, `.pbmm`), a TensorFlow checkpoint (`prefix.index`, or the prefix), or a
    /// deepspeech.pytorch checkpoint (`.pth`, `.ckpt`). The format is recognised from the
    /// file's bytes, not its name.
    /// - Parameters:
    ///   - precision: `.int8Hybrid` (default) computes quantized layers exactly as the TFLite
    ///     runtime of the reference engines does; `.float32` dequantizes the weights first.
    ///     Files with float weights (all but `.tflite`) always compute in float32.
    ///   - alphabetPath: an `alphabet.txt` to use instead of the one stored in the model
    ///     (required for TensorFlow checkpoints, which store none).
    /// - Throws: `ModelFileError` naming the file and what is wrong with it (not a model,
    ///   truncated, missing tensors, alphabet/output size mismatch, ...).
    public init(path: String, precision: Precision = .int8Hybrid, alphabetPath: String? = nil) throws {
        self.path = path
        network = try AcousticNetwork.load(path: path, precision: precision)
        switch network {
        case .deepSpeech2(let ds2):
            let c = ds2.configuration
            var labels = c.labels
            labels.remove(at: c.blankIndex)
            do {
                alphabet = try alphabetPath.map { try Alphabet(contentsOf: URL(fileURLWithPath: $0)) } ?? Alphabet(labels: labels)
            } catch {
                throw ModelFileError(path: alphabetPath ?? path, problem: "cannot use the labels as an alphabet: \(error)")
            }
            features = nil
            let s = LogSpectrogram(sampleRate: c.sampleRate, windowSeconds: c.windowSeconds, stepSeconds: c.stepSeconds,
                                   window: LogSpectrogram.Window(rawValue: c.window) ?? .hamming, symmetricWindow: c.symmetricWindow)
            spectrogram = s
            sampleRate = c.sampleRate
            defaultBeamWidth = 500
            secondsPerFrame = Double(s.stepLength * 2) / Double(c.sampleRate)
        case .deepSpeech(let acoustic):
            do {
                if let alphabetPath {
                    alphabet = try Alphabet(contentsOf: URL(fileURLWithPath: alphabetPath))
                } else if acoustic.metadata.alphabetBytes.isEmpty {
                    let why = acoustic.format.contains("checkpoint") ? acoustic.format
                        : "\(acoustic.format), graph version \(acoustic.metadata.graphVersion); exports before version 6 (DeepSpeech 0.7) kept it in a separate alphabet.txt"
                    throw ModelFileError(path: path, problem: "the file stores no alphabet (\(why)); pass one with --alphabet alphabet.txt")
                } else {
                    alphabet = try Alphabet(serialized: acoustic.metadata.alphabetBytes)
                }
            } catch let error as ModelFileError {
                throw error
            } catch {
                throw ModelFileError(path: alphabetPath ?? path, problem: "cannot read the alphabet: \(error)")
            }
            let m = acoustic.metadata
            let f = FeatureExtractor(sampleRate: m.sampleRate, windowMilliseconds: m.featureWindowMilliseconds,
                                     stepMilliseconds: m.featureStepMilliseconds,
                                     coefficientCount: acoustic.hyperparameters.nInput)
            features = f
            spectrogram = nil
            sampleRate = m.sampleRate
            defaultBeamWidth = m.beamWidth
            secondsPerFrame = Double(f.stepLength) / Double(m.sampleRate)
        }
        let classes: Int
        switch network {
        case .deepSpeech(let m): classes = m.hyperparameters.nClasses
        case .deepSpeech2(let m): classes = m.classCount
        }
        guard alphabet.size + 1 == classes else {
            throw ModelFileError(path: alphabetPath ?? path, problem:
                "the alphabet has \(alphabet.size) labels but the model outputs \(classes) classes (labels + 1 blank)")
        }
    }

    /// A new stream for feeding audio incrementally. One-shot transcription is a stream fed
    /// everything at once, so both give identical results.
    /// - Throws: `PrefixBeamSearchError` when the options are impossible (beam width < 1, …).
    public func makeStream(options: DecodingOptions = DecodingOptions()) throws -> SpeechStream {
        try SpeechStream(model: self, options: options)
    }

    /// The best transcript of mono samples at `sampleRate` (floats in [-1, 1)).
    public func transcribe(_ samples: [Float]) -> String {
        // The default options are always valid.
        (try? transcribeWithMetadata(samples).text) ?? ""
    }

    /// Candidates with tokens, timings and confidence for mono samples at `sampleRate`.
    public func transcribeWithMetadata(_ samples: [Float], options: DecodingOptions = DecodingOptions()) throws -> Transcription {
        var stream = try makeStream(options: options)
        stream.feed(samples)
        return stream.finishWithMetadata()
    }

    /// The int8 product kernel chosen for this CPU and what the CPU reported, e.g.
    /// "int8 kernel avx512vnni (CPU: AMD EPYC; avx2 avx512bw avx512vnni)".
    public static var kernelDescription: String {
        let cpu = CPUFeatures.current
        return "int8 kernel \(Int8ProductKernel.selected) (CPU: \(cpu.brand.isEmpty ? "unknown" : cpu.brand); \(cpu))"
    }

    /// A multi-line summary of the model for logs: every hyperparameter and metadata value.
    public var summary: String {
        switch network {
        case .deepSpeech(let acoustic):
            let h = acoustic.hyperparameters, m = acoustic.metadata, f = features!
            return """
            model: \(path)
              format: \(acoustic.format), graph version \(m.graphVersion), precision \(acoustic.precision)\(acoustic.precision == .int8Hybrid ? ", " + Self.kernelDescription : "")
              sample_rate = \(m.sampleRate) Hz, window = \(m.featureWindowMilliseconds) ms (\(f.windowLength) samples), step = \(m.featureStepMilliseconds) ms (\(f.stepLength) samples)
              n_input = \(h.nInput), n_context = \(h.nContext), n_hidden = \(h.nHidden), n_cell = \(h.nCell), n_classes = \(h.nClasses), n_steps = \(h.nSteps)
              beam_width = \(m.beamWidth), alphabet = \(alphabet.size) labels\(m.language.map { ", language = \($0)" } ?? "")
            """
        case .deepSpeech2(let ds2):
            let c = ds2.configuration, s = spectrogram!
            return """
            model: \(path)
              format: \(c.format), DeepSpeech2, float32
              sample_rate = \(c.sampleRate) Hz, spectrogram window = \(s.fftLength) samples (\(c.window)\(c.symmetricWindow ? ", symmetric" : "")), step = \(s.stepLength) samples, audio scale 1/\(Int(c.audioScale))
              rnn = \(c.rnnType), hidden_size = \(c.hiddenSize), hidden_layers = \(c.hiddenLayers), bidirectional = \(c.bidirectional)\(c.lookaheadContext.map { ", lookahead_context = \($0)" } ?? ""), classes = \(ds2.classCount) (blank index \(c.blankIndex))
              parameters = \(ds2.parameterCount), labels = \(c.labels.joined())\(c.warnings.isEmpty ? "" : "\n  warnings: " + c.warnings.joined(separator: "; "))
            """
        }
    }

    /// Writes the model as a swift-deepspeech `.dsmodel` file (see ``ConvertedModelFile``),
    /// with the alphabet in use stored in it.
    public func convert(to output: String) throws {
        // DeepSpeech stores the alphabet in use (checkpoints have none of their own);
        // DeepSpeech2 keeps the checkpoint's labels, blank included.
        let stored = acoustic == nil ? nil : alphabet.serialized()
        try ConvertedModelFile.write(network, alphabet: stored, source: path, to: output)
    }
}
