import Foundation

/// One stage's tensor from a recording pass: row-major `Float` values of `shape`.
public struct RecordedTensor: Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
    /// What the stage is, in a phrase (for index files and plots).
    public var description: String
}

/// Everything the pipeline computed for one piece of audio, stage by stage, in the order the
/// data flows: samples, power spectrum, MFCC, context windows, each layer's output (LSTM gates
/// and states included), probabilities, and the beam search's best prefixes after each step.
///
/// ```swift
/// let recording = try model.record(samples)
/// let layer3 = recording["layer_3"]!        // shape [steps, 2048]
/// ```
public struct ActivationRecording: Sendable {
    public var stages: [RecordedTensor]
    /// The best `topPrefixes` prefixes after each step: `[step][rank]` (text, score).
    public var beam: [[BeamEntry]]
    /// The final result (equal to `transcribeWithMetadata` on the same samples).
    public var transcription: Transcription

    public struct BeamEntry: Sendable, Codable, Equatable {
        public var text: String
        public var score: Double
    }

    public subscript(name: String) -> RecordedTensor? { stages.first { $0.name == name } }
}

/// Why a recording could not be made.
public struct RecordingError: Error, CustomStringConvertible {
    public let description: String
}

extension SpeechModel {
    /// The longest audio ``record(_:options:topPrefixes:)`` accepts: every stage is kept in
    /// memory, about 75 KB per 20 ms step for the released models (200 MB per minute).
    public static let maximumRecordingSeconds = 120.0

    /// Runs the pipeline once over `samples` (mono, model rate) keeping every stage. The
    /// steps go through the acoustic model in batches of `nSteps` from the start, exactly as a
    /// stream fed the same samples processes them, so the transcription is the same.
    public func record(_ samples: [Float], options: DecodingOptions = DecodingOptions(), topPrefixes: Int = 5) throws -> ActivationRecording {
        let seconds = Double(samples.count) / Double(sampleRate)
        guard seconds <= Self.maximumRecordingSeconds else {
            throw RecordingError(description: String(format: "a recording keeps every stage in memory; %.0f s of audio is more than the %.0f s allowed (cut the audio first)", seconds, Self.maximumRecordingSeconds))
        }
        var stages: [RecordedTensor] = []
        stages.append(RecordedTensor(name: "samples", shape: [samples.count], values: samples,
                                     description: "audio samples at \(sampleRate) Hz, mono, in [-1, 1)"))
        let probabilities: [Float], frameCount: Int, modelSeconds: Double
        switch network {
        case .deepSpeech(let acoustic):
            (probabilities, frameCount, modelSeconds) = recordDeepSpeech(samples, acoustic: acoustic, features: features!, into: &stages)
        case .deepSpeech2:
            var timings = StageTimings()
            let descriptions = [
                "spectrogram": "normalised log(1 + |STFT|) per frame (time-major)", "conv_1": "convolution 1, BatchNorm, clamp(0, 20) [time][channel][frequency]",
                "conv_2": "convolution 2, BatchNorm, clamp(0, 20) [time][channel][frequency]", "lookahead": "lookahead convolution, clamp(0, 20)",
                "logits": "output layer (BatchNorm, linear), before softmax, in the model's class order (blank first)",
                "probabilities": "softmax over the labels and the blank (moved last, as the decoder reads it)",
            ]
            probabilities = wholeUtteranceProbabilities(samples, timings: &timings) { name, values, shape in
                stages.append(RecordedTensor(name: name, shape: shape, values: values,
                                             description: descriptions[name] ?? (name.hasPrefix("rnn_") ? "recurrent layer \(name.dropFirst(4)) output (directions summed)" : name)))
            }
            frameCount = probabilities.count / classCount
            modelSeconds = timings.acousticModel
        }
        let classes = classCount

        // Decoder, step by step, keeping the best prefixes.
        let decodeStart = DispatchTime.now()
        var decoder = try PrefixBeamSearch(classCount: classes, beamWidth: options.beamWidth ?? defaultBeamWidth,
                                           cutoffTopN: options.cutoffTopN, cutoffProbability: options.cutoffProbability,
                                           scorer: options.scorer)
        var beam: [[ActivationRecording.BeamEntry]] = []
        probabilities.withUnsafeBufferPointer { p in
            for t in 0..<frameCount {
                decoder.next(probabilities: UnsafeBufferPointer(rebasing: p[(t * classes)..<((t + 1) * classes)]), frames: 1)
                beam.append(decoder.decode(candidates: topPrefixes).map {
                    ActivationRecording.BeamEntry(text: alphabet.decode($0.labels), score: $0.confidence)
                })
            }
        }
        // The decoder above saw exactly the frames a stream would, so its result is the transcription.
        var timings = StageTimings()
        timings.acousticModel = modelSeconds
        timings.decoding = DispatchTime.secondsSince(decodeStart)
        let transcription = Transcription(candidates: candidates(decoder.decode(candidates: max(1, options.candidates))),
                                          audioSeconds: Double(samples.count) / Double(sampleRate), timings: timings)
        return ActivationRecording(stages: stages, beam: beam, transcription: transcription)
    }

    /// DeepSpeech's stages: power spectrum, MFCC, context windows, every layer.
    private func recordDeepSpeech(_ samples: [Float], acoustic: DeepSpeechModel, features: FeatureExtractor,
                                  into stages: inout [RecordedTensor]) -> ([Float], Int, Double) {
        let h = acoustic.hyperparameters, classes = h.nClasses

        // Features: the native client's frames (full windows, then the zero-padded tail).
        let frames = features.framesLikeNativeClient(samples)
        let frameCount = frames.count / h.nInput
        var power = [Float](repeating: 0, count: frameCount * features.spectrum.binCount)
        var buffers = PowerSpectrum.Buffers(features.spectrum)
        var window = [Float](repeating: 0, count: features.windowLength)
        for k in 0..<frameCount {
            let start = k * features.stepLength
            for i in 0..<features.windowLength { window[i] = start + i < samples.count ? samples[start + i] : 0 }
            window.withUnsafeBufferPointer { w in
                power.withUnsafeMutableBufferPointer { p in
                    let bins = features.spectrum.binCount
                    features.spectrum.compute(frame: w, into: UnsafeMutableBufferPointer(rebasing: p[(k * bins)..<((k + 1) * bins)]), buffers: &buffers)
                }
            }
        }
        stages.append(RecordedTensor(name: "power_spectrum", shape: [frameCount, features.spectrum.binCount], values: power,
                                     description: "|FFT|² of each \(features.windowLength)-sample Hann window, every \(features.stepLength) samples"))
        stages.append(RecordedTensor(name: "mfcc", shape: [frameCount, h.nInput], values: frames,
                                     description: "\(h.nInput) MFCCs per frame"))
        let windows = ContextWindows.make(frames: frames, featureCount: h.nInput, context: h.nContext)
        stages.append(RecordedTensor(name: "context_windows", shape: [frameCount, 2 * h.nContext + 1, h.nInput], values: windows,
                                     description: "frames t-\(h.nContext) … t+\(h.nContext) for each time step (the model's input)"))

        // Acoustic model, observing every layer.
        let order = ["layer_1", "layer_2", "layer_3", "lstm_gates", "lstm_c", "lstm_h", "layer_5", "layer_6", "probabilities"]
        let descriptions = [
            "layer_1": "dense 1 (clipped ReLU)", "layer_2": "dense 2 (clipped ReLU)", "layer_3": "dense 3 (clipped ReLU)",
            "lstm_gates": "LSTM gate pre-activations i, j, f, o", "lstm_c": "LSTM cell state", "lstm_h": "LSTM output (hidden state)",
            "layer_5": "dense 5 (clipped ReLU)", "layer_6": "output logits", "probabilities": "softmax over the labels and the blank (last)",
        ]
        var collected: [String: [Float]] = [:]
        var widths: [String: Int] = [:]
        var probabilities = [Float](repeating: 0, count: frameCount * h.nClasses)
        var state = acoustic.makeState()
        let modelStart = DispatchTime.now()
        windows.withUnsafeBufferPointer { w in
            probabilities.withUnsafeMutableBufferPointer { p in
                acoustic.forward(windows: w, steps: frameCount, state: &state, probabilities: p) { name, values, rows in
                    collected[name, default: []].append(contentsOf: values)
                    widths[name] = values.count / max(rows, 1)
                }
            }
        }
        for name in order {
            guard let values = collected[name], let width = widths[name] else { continue }
            stages.append(RecordedTensor(name: name, shape: [values.count / width, width], values: values, description: descriptions[name] ?? name))
        }

        let modelSeconds = DispatchTime.secondsSince(modelStart)

        return (probabilities, frameCount, modelSeconds)
    }
}

/// Writes NumPy `.npy` files (format 1.0, little-endian float32, C order), which
/// `numpy.load` opens directly, and reads them back.
public enum NPYWriter {
    /// Reads a little-endian float32, C-order `.npy` file (what ``data(shape:values:)`` writes,
    /// and `numpy.save` of a float32 array).
    public static func read(path: String) throws -> (shape: [Int], values: [Float]) {
        func bad(_ why: String) -> RecordingError { RecordingError(description: "\(path): not a float32 .npy file (\(why))") }
        guard let data = FileManager.default.contents(atPath: path) else { throw bad("cannot read it") }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, bytes[1...5].elementsEqual("NUMPY".utf8) else { throw bad("no NUMPY magic") }
        let headerStart = bytes[6] == 1 ? 10 : 12
        guard bytes.count >= headerStart else { throw bad("truncated header") }
        let headerLength = bytes[6] == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        guard bytes.count >= headerStart + headerLength else { throw bad("truncated header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False"),
              let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw bad("only little-endian float32 in C order is read")
        }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let start = headerStart + headerLength
        guard bytes.count - start == 4 * count else { throw bad("\(bytes.count - start) data bytes for shape \(shape)") }
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let p = start + 4 * i
            values[i] = Float(bitPattern: UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16 | UInt32(bytes[p + 3]) << 24)
        }
        return (shape, values)
    }

    public static func data(shape: [Int], values: [Float]) -> Data {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        // Magic (6) + version (2) + length (2) + header + newline, padded to a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        out.append(contentsOf: Array(header.utf8))
        values.withUnsafeBufferPointer { v in
            for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }
}

extension ActivationRecording {
    /// Summary statistics of a stage.
    public struct Statistics: Sendable, Codable, Equatable {
        public var count: Int
        public var minimum: Float
        public var maximum: Float
        public var mean: Double
        public var standardDeviation: Double

        public init(_ values: [Float]) {
            count = values.count
            minimum = values.min() ?? 0
            maximum = values.max() ?? 0
            var sum = 0.0, squares = 0.0
            for v in values { sum += Double(v); squares += Double(v) * Double(v) }
            mean = values.isEmpty ? 0 : sum / Double(values.count)
            standardDeviation = values.isEmpty ? 0 : max(0, squares / Double(values.count) - mean * mean).squareRoot()
        }

        enum CodingKeys: String, CodingKey { case count, minimum = "min", maximum = "max", mean, standardDeviation = "std" }
    }

    /// Writes every stage as `<name>.npy`, the beam as `beam.json` and an `index.json` that
    /// lists the stages in order with file, shape, description and statistics.
    public func write(to directory: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        struct Entry: Encodable { var name: String; var file: String; var shape: [Int]; var description: String; var statistics: Statistics }
        struct Index: Encodable { var stages: [Entry]; var beam: String; var transcripts: [Candidate] }
        var entries: [Entry] = []
        for stage in stages {
            let file = stage.name + ".npy"
            try NPYWriter.data(shape: stage.shape, values: stage.values).write(to: URL(fileURLWithPath: directory).appendingPathComponent(file))
            entries.append(Entry(name: stage.name, file: file, shape: stage.shape, description: stage.description, statistics: Statistics(stage.values)))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys, .prettyPrinted]
        try encoder.encode(beam).write(to: URL(fileURLWithPath: directory).appendingPathComponent("beam.json"))
        try encoder.encode(Index(stages: entries, beam: "beam.json", transcripts: transcription.candidates))
            .write(to: URL(fileURLWithPath: directory).appendingPathComponent("index.json"))
    }
}
