import Foundation

/// Golden outputs: what a model produced for some audio, stage by stage, stored so that a later
/// build (or another machine) can check that it still produces the same within stated
/// tolerances, and say which stage drifted first.
///
/// Each stage is stored as its shape, statistics (min, max, mean, std), a CRC-32 of its float32
/// bytes (equal CRCs mean bit-identical), and a *fingerprint*: the sums of each row and of
/// each column (the last dimension is the row). The fingerprint is small (rows + columns
/// numbers) yet any change of a single value changes one row sum and one column sum by as much.
/// Optionally the full tensors are stored too (`.npy` files next to the golden file), and then
/// checked element by element.
///
/// ```swift
/// let golden = try GoldenOutputs.record(model: model, audioFiles: ["a.wav"])
/// try golden.write(to: "golden.json")
/// // later, in a test:
/// let report = try GoldenOutputs(contentsOf: "golden.json").check(model: model)
/// XCTAssertTrue(report.passed, report.text)
/// ```
public struct GoldenOutputs: Codable, Sendable {
    /// Allowed difference for each value `x` against its golden value `g`:
    /// `|x − g| ≤ absolute + relative · |g|`.
    public struct Tolerance: Codable, Sendable, Equatable {
        public var absolute: Double
        public var relative: Double
        public init(absolute: Double, relative: Double) { self.absolute = absolute; self.relative = relative }
    }

    public struct Stage: Codable, Sendable {
        public var name: String
        public var shape: [Int]
        public var statistics: ActivationRecording.Statistics
        public var crc32: String
        public var rowSums: [Double]
        public var columnSums: [Double]
        enum CodingKeys: String, CodingKey { case name, shape, statistics, crc32, rowSums = "row_sums", columnSums = "column_sums" }
    }

    public struct Transcript: Codable, Sendable, Equatable {
        public var text: String
        public var confidence: Double
    }

    public struct Audio: Codable, Sendable {
        public var file: String
        public var transcripts: [Transcript]
        public var stages: [Stage]
        /// With full tensors: the folder (relative to the golden file) holding `<stage>.npy`.
        public var tensors: String?
    }

    public var format = "swift-deepspeech golden outputs 1"
    public var model: String
    public var precision: String
    public var beamWidth: Int?
    public var candidates: Int
    /// Tolerances per stage name; stages not listed use `defaultTolerance`.
    public var tolerances: [String: Tolerance]
    public var audio: [Audio]

    enum CodingKeys: String, CodingKey {
        case format, model, precision, beamWidth = "beam_width", candidates, tolerances, audio
    }

    /// The defaults written into new golden files: exact for the samples; 1e-6 relative for
    /// the features; 1e-5 relative for the layers (room for another CPU's float rounding in
    /// the LSTM's activations, far below what a changed weight or precision does).
    public static let defaultTolerances: [String: Tolerance] = [
        "samples": Tolerance(absolute: 0, relative: 0),
        "power_spectrum": Tolerance(absolute: 1e-9, relative: 1e-6),
        "mfcc": Tolerance(absolute: 1e-6, relative: 1e-6),
        "spectrogram": Tolerance(absolute: 1e-6, relative: 1e-6),
        "context_windows": Tolerance(absolute: 1e-6, relative: 1e-6),
        "probabilities": Tolerance(absolute: 1e-6, relative: 1e-5),
    ]
    public static let defaultTolerance = Tolerance(absolute: 1e-5, relative: 1e-5)
    /// Transcript confidences (they are sums over the whole utterance).
    public static let confidenceTolerance = Tolerance(absolute: 1e-4, relative: 1e-5)

    public func tolerance(for stage: String) -> Tolerance { tolerances[stage] ?? Self.defaultTolerance }

    /// Runs `model` on each file and stores the stages and transcripts.
    /// - Parameter fullTensorsNextTo: a golden file path; when given, every stage is also
    ///   written as `.npy` into `<golden>.tensors/<n>/` and checked element by element later.
    public static func record(model: SpeechModel, audioFiles: [String], options: DecodingOptions = DecodingOptions(candidates: 3),
                              tolerances: [String: Tolerance] = defaultTolerances, fullTensorsNextTo golden: String? = nil) throws -> GoldenOutputs {
        var audio: [Audio] = []
        for (n, file) in audioFiles.enumerated() {
            let (entry, recording) = try Self.audio(model: model, file: file, options: options)
            var stored = entry
            if let golden {
                let folder = (golden as NSString).lastPathComponent + ".tensors/\(n + 1)"
                try recording.write(to: ((golden as NSString).deletingLastPathComponent as NSString).appendingPathComponent(folder))
                stored.tensors = folder
            }
            audio.append(stored)
        }
        return GoldenOutputs(model: model.path, precision: model.acoustic?.precision.rawValue ?? "float32", beamWidth: options.beamWidth,
                             candidates: options.candidates, tolerances: tolerances, audio: audio)
    }

    static func audio(model: SpeechModel, file: String, options: DecodingOptions) throws -> (Audio, ActivationRecording) {
        let recording = try model.record(try ModelInput.load(path: file, sampleRate: model.sampleRate), options: options)
        let audio = Audio(file: file, transcripts: recording.transcription.candidates.map { Transcript(text: $0.text, confidence: $0.confidence) },
                          stages: recording.stages.map(Self.stage), tensors: nil)
        return (audio, recording)
    }

    static func stage(_ tensor: RecordedTensor) -> Stage {
        // 1-D tensors (the samples) are cut into rows of 320.
        let width = tensor.shape.count > 1 ? tensor.shape.last! : 320
        let rows = (tensor.values.count + width - 1) / max(width, 1)
        var rowSums = [Double](repeating: 0, count: rows)
        var columnSums = [Double](repeating: 0, count: tensor.shape.count > 1 ? width : 0)
        for (i, v) in tensor.values.enumerated() {
            rowSums[i / width] += Double(v)
            if !columnSums.isEmpty { columnSums[i % width] += Double(v) }
        }
        let bytes: [UInt8] = tensor.values.withUnsafeBytes { Array($0) }
        return Stage(name: tensor.name, shape: tensor.shape, statistics: ActivationRecording.Statistics(tensor.values),
                     crc32: String(format: "%08x", CRC32.checksum(bytes[...])), rowSums: rowSums, columnSums: columnSums)
    }

    public init(model: String, precision: String, beamWidth: Int?, candidates: Int, tolerances: [String: Tolerance], audio: [Audio]) {
        self.model = model
        self.precision = precision
        self.beamWidth = beamWidth
        self.candidates = candidates
        self.tolerances = tolerances
        self.audio = audio
    }

    /// Reads a golden file.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RecordingError(description: "\(path): cannot read the golden file")
        }
        do { self = try JSONDecoder().decode(GoldenOutputs.self, from: data) } catch {
            throw RecordingError(description: "\(path): not a golden outputs file (\(error))")
        }
        guard format.hasPrefix("swift-deepspeech golden outputs") else {
            throw RecordingError(description: "\(path): unknown golden format '\(format)'")
        }
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    // MARK: - Checking

    /// One stage of one audio file, compared.
    public struct StageResult: Sendable, Codable {
        public var file: String
        public var stage: String
        /// Largest |x − g| over the fingerprint and statistics.
        public var maxAbsolute: Double
        /// Largest |x − g| / |g| (|g| floored at 1e-12).
        public var maxRelative: Double
        public var tolerance: Tolerance
        public var bitIdentical: Bool
        public var passed: Bool
        /// Why it failed, when it did (shape change, value out of tolerance, missing stage).
        public var problem: String?
    }

    public struct Report: Sendable, Codable {
        public var results: [StageResult]
        public var passed: Bool { results.allSatisfy(\.passed) }
        /// The first stage, in pipeline order, that is out of tolerance.
        public var firstFailure: StageResult? { results.first { !$0.passed } }

        /// A table for people: one line per file and stage.
        public var text: String {
            var lines = ["file                 stage              max abs     max rel     tolerance (abs, rel)   result"]
            for r in results {
                let name = (r.file as NSString).lastPathComponent
                lines.append(String(format: "%@ %@ %10.3e  %10.3e  %9.1e, %7.1e     %@",
                                    name.padding(toLength: 20, withPad: " ", startingAt: 0), r.stage.padding(toLength: 16, withPad: " ", startingAt: 0),
                                    r.maxAbsolute, r.maxRelative, r.tolerance.absolute, r.tolerance.relative,
                                    r.passed ? (r.bitIdentical ? "ok (bit-identical)" : "ok") : "FAILED" + (r.problem.map { ": \($0)" } ?? "")))
            }
            if let first = firstFailure {
                lines.append("golden check FAILED: \((first.file as NSString).lastPathComponent) drifted first at stage '\(first.stage)'")
            } else {
                lines.append("golden check passed: \(results.count) stage results within tolerance")
            }
            return lines.joined(separator: "\n")
        }
    }

    /// Recomputes every audio file with `model` and compares, stage by stage, then the
    /// transcripts (stage "transcripts": texts equal, confidences within
    /// ``confidenceTolerance``).
    ///
    /// - Parameter goldenPath: where the golden file is, to find full tensors stored next to it.
    public func check(model: SpeechModel, overriding: [String: Tolerance] = [:], goldenPath: String? = nil) throws -> Report {
        var results: [StageResult] = []
        let options = DecodingOptions(beamWidth: beamWidth, candidates: candidates)
        for golden in audio {
            let (now, recording) = try Self.audio(model: model, file: golden.file, options: options)
            for expected in golden.stages {
                let tolerance = overriding[expected.name] ?? tolerance(for: expected.name)
                guard let actual = now.stages.first(where: { $0.name == expected.name }) else {
                    results.append(StageResult(file: golden.file, stage: expected.name, maxAbsolute: .infinity, maxRelative: .infinity,
                                               tolerance: tolerance, bitIdentical: false, passed: false, problem: "stage missing"))
                    continue
                }
                var result = Self.compare(actual, expected, file: golden.file, tolerance: tolerance)
                if let folder = golden.tensors, result.problem?.hasPrefix("shape") != true {
                    let base = goldenPath.map { ($0 as NSString).deletingLastPathComponent } ?? "."
                    let stored = try NPYWriter.read(path: ((base as NSString).appendingPathComponent(folder) as NSString)
                                                        .appendingPathComponent(expected.name + ".npy"))
                    if let tensor = recording[expected.name] {
                        Self.compareElements(tensor.values, stored.values, into: &result)
                    }
                }
                results.append(result)
            }
            results.append(Self.compareTranscripts(now.transcripts, golden.transcripts, file: golden.file))
        }
        return Report(results: results)
    }

    static func compare(_ actual: Stage, _ expected: Stage, file: String, tolerance: Tolerance) -> StageResult {
        var result = StageResult(file: file, stage: expected.name, maxAbsolute: 0, maxRelative: 0, tolerance: tolerance,
                                 bitIdentical: actual.crc32 == expected.crc32, passed: true, problem: nil)
        guard actual.shape == expected.shape, actual.rowSums.count == expected.rowSums.count,
              actual.columnSums.count == expected.columnSums.count else {
            result.passed = false
            result.maxAbsolute = .infinity
            result.maxRelative = .infinity
            result.problem = "shape \(actual.shape) instead of \(expected.shape)"
            return result
        }
        let a = actual.statistics, e = expected.statistics
        let pairs = zip(actual.rowSums, expected.rowSums).map { ($0, $1) } + zip(actual.columnSums, expected.columnSums).map { ($0, $1) }
            + [(Double(a.minimum), Double(e.minimum)), (Double(a.maximum), Double(e.maximum)), (a.mean, e.mean),
               (a.standardDeviation, e.standardDeviation), (Double(a.count), Double(e.count))]
        for (x, g) in pairs {
            let d = abs(x - g)
            guard d.isFinite || (x.isNaN && g.isNaN) else { result.maxAbsolute = .infinity; result.passed = false; continue }
            result.maxAbsolute = max(result.maxAbsolute, d)
            result.maxRelative = max(result.maxRelative, d / max(abs(g), 1e-12))
            if d > tolerance.absolute + tolerance.relative * abs(g) { result.passed = false }
        }
        if !result.passed && result.problem == nil { result.problem = "values out of tolerance" }
        return result
    }

    /// Element-by-element comparison with the stored full tensor (in addition to the
    /// fingerprint): the differences reported become the elements' own.
    static func compareElements(_ actual: [Float], _ expected: [Float], into result: inout StageResult) {
        guard actual.count == expected.count else {
            result.passed = false
            result.problem = "\(actual.count) values instead of \(expected.count)"
            return
        }
        var maxAbsolute = 0.0, maxRelative = 0.0, within = true
        for (x, g) in zip(actual, expected) {
            let d = abs(Double(x) - Double(g))
            maxAbsolute = max(maxAbsolute, d)
            maxRelative = max(maxRelative, d / max(abs(Double(g)), 1e-12))
            if !(d <= result.tolerance.absolute + result.tolerance.relative * abs(Double(g))) { within = false }
        }
        result.maxAbsolute = max(result.maxAbsolute, maxAbsolute)
        result.maxRelative = max(result.maxRelative, maxRelative)
        if !within {
            result.passed = false
            result.problem = "values out of tolerance (element by element)"
        }
    }

    static func compareTranscripts(_ actual: [Transcript], _ expected: [Transcript], file: String) -> StageResult {
        let tolerance = confidenceTolerance
        var result = StageResult(file: file, stage: "transcripts", maxAbsolute: 0, maxRelative: 0, tolerance: tolerance,
                                 bitIdentical: actual == expected, passed: true, problem: nil)
        guard actual.map(\.text) == expected.map(\.text) else {
            result.passed = false
            result.problem = "text \"\(actual.first?.text ?? "")\" instead of \"\(expected.first?.text ?? "")\""
            return result
        }
        for (x, g) in zip(actual, expected) {
            let d = abs(x.confidence - g.confidence)
            result.maxAbsolute = max(result.maxAbsolute, d)
            result.maxRelative = max(result.maxRelative, d / max(abs(g.confidence), 1e-12))
            if !(d <= tolerance.absolute + tolerance.relative * abs(g.confidence)) {
                result.passed = false
                result.problem = "confidence out of tolerance"
            }
        }
        return result
    }
}
