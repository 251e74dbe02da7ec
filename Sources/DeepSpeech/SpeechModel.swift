import Foundation

/// A loaded speech-to-text model: immutable, `Sendable`, loaded once and shared by any number
/// of callers and threads. Each transcription (or `SpeechStream`) keeps its own state.
///
/// ```swift
/// let model = try SpeechModel(path: "Weights/armspeech.tflite")
/// print(try model.transcribe(file: "clip.wav").text)
/// ```
public final class SpeechModel: Sendable {
    /// The file the model was loaded from.
    public let path: String
    /// The typed acoustic model (weights and forward pass).
    public let acoustic: DeepSpeechModel
    /// Labels of the output classes but the last (the CTC blank).
    public let alphabet: Alphabet
    /// The MFCC front end configured from the model's metadata.
    public let features: FeatureExtractor

    public var sampleRate: Int { acoustic.metadata.sampleRate }
    /// The beam width stored in the model (used when `DecodingOptions.beamWidth` is nil).
    public var defaultBeamWidth: Int { acoustic.metadata.beamWidth }
    /// Seconds of audio per output frame (the feature step, 20 ms for released models).
    public var secondsPerFrame: Double { Double(features.stepLength) / Double(sampleRate) }

    /// Loads a model file.
    /// - Parameters:
    ///   - precision: `.int8Hybrid` (default) computes quantized layers exactly as the TFLite
    ///     runtime of the reference engines does; `.float32` dequantizes the weights first.
    ///   - alphabetPath: an `alphabet.txt` to use instead of the one stored in the model.
    /// - Throws: `ModelFileError` naming the file and what is wrong with it (not a .tflite
    ///   model, truncated, missing tensors, alphabet/output size mismatch, ...).
    public init(path: String, precision: Precision = .int8Hybrid, alphabetPath: String? = nil) throws {
        self.path = path
        acoustic = try DeepSpeechModel(path: path, precision: precision)
        let alphabet: Alphabet
        do {
            if let alphabetPath {
                alphabet = try Alphabet(contentsOf: URL(fileURLWithPath: alphabetPath))
            } else {
                alphabet = try Alphabet(serialized: acoustic.metadata.alphabetBytes)
            }
        } catch {
            throw ModelFileError(path: alphabetPath ?? path, problem: "cannot read the alphabet: \(error)")
        }
        guard alphabet.size + 1 == acoustic.hyperparameters.nClasses else {
            throw ModelFileError(path: alphabetPath ?? path, problem:
                "the alphabet has \(alphabet.size) labels but the model outputs \(acoustic.hyperparameters.nClasses) classes (labels + 1 blank)")
        }
        self.alphabet = alphabet
        let m = acoustic.metadata
        features = FeatureExtractor(sampleRate: m.sampleRate, windowMilliseconds: m.featureWindowMilliseconds,
                                    stepMilliseconds: m.featureStepMilliseconds,
                                    coefficientCount: acoustic.hyperparameters.nInput)
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

    /// A multi-line summary of the model for logs: every hyperparameter and metadata value.
    public var summary: String {
        let h = acoustic.hyperparameters, m = acoustic.metadata
        return """
        model: \(path)
          format: TensorFlow Lite, graph version \(m.graphVersion), precision \(acoustic.precision)
          sample_rate = \(m.sampleRate) Hz, window = \(m.featureWindowMilliseconds) ms (\(features.windowLength) samples), step = \(m.featureStepMilliseconds) ms (\(features.stepLength) samples)
          n_input = \(h.nInput), n_context = \(h.nContext), n_hidden = \(h.nHidden), n_cell = \(h.nCell), n_classes = \(h.nClasses), n_steps = \(h.nSteps)
          beam_width = \(m.beamWidth), alphabet = \(alphabet.size) labels\(m.language.map { ", language = \($0)" } ?? "")
        """
    }
}
