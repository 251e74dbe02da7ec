import Foundation

/// Chooses a scorer's alpha (language-model weight) and beta (word bonus) by minimising the word
/// error rate on a development set, as deepspeech.pytorch's `search_lm_params` does: the
/// acoustic model runs once per clip, then every (alpha, beta) candidate only re-runs the
/// beam search over the stored probabilities.
public struct AlphaBetaSearch: Sendable {
    public struct Clip: Sendable {
        public var file: String
        public var transcript: String
        public init(file: String, transcript: String) { self.file = file; self.transcript = transcript }
    }

    public struct Result: Sendable, Codable, Equatable {
        public var alpha: Double
        public var beta: Double
        /// Word errors (substitutions + insertions + deletions) over reference words.
        public var wordErrorRate: Double
        public var characterErrorRate: Double
    }

    /// Reads a manifest: CSV rows `wav,transcript` (DeepSpeech's `wav_filename,wav_filesize,transcript`
    /// also works: the first column is the audio, the last the transcript; a header row naming
    /// `wav_filename` or `transcript` is skipped). Relative paths are relative to the manifest.
    public static func readManifest(_ path: String) throws -> [Clip] {
        guard let data = FileManager.default.contents(atPath: path) else { throw RecordingError(description: "\(path): cannot read the manifest") }
        let base = (path as NSString).deletingLastPathComponent
        var clips: [Clip] = []
        for (n, line) in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if n == 0 && (fields.contains("wav_filename") || fields.contains("transcript")) { continue }
            guard fields.count >= 2, !fields[0].isEmpty else {
                throw RecordingError(description: "\(path): line \(n + 1): expected 'wav,transcript'")
            }
            let file = fields[0].hasPrefix("/") ? fields[0] : (base as NSString).appendingPathComponent(fields[0])
            clips.append(Clip(file: file, transcript: fields[fields.count - 1]))
        }
        guard !clips.isEmpty else { throw RecordingError(description: "\(path): the manifest lists no clips") }
        return clips
    }

    public let model: SpeechModel
    public let clips: [Clip]
    /// `[clip]` probabilities `[steps][classes]`, computed once.
    let probabilities: [[Float]]

    /// Runs the acoustic model over every clip (the slow part; `progress` gets the clip index).
    public init(model: SpeechModel, clips: [Clip], progress: ((Int) -> Void)? = nil) throws {
        self.model = model
        self.clips = clips
        var all: [[Float]] = []
        for (i, clip) in clips.enumerated() {
            all.append(try model.probabilities(try ModelInput.load(path: clip.file, sampleRate: model.sampleRate)))
            progress?(i + 1)
        }
        probabilities = all
    }

    /// Word and character error rates with `scorer` (its alpha/beta) at `beamWidth`.
    public func evaluate(scorer: LanguageModelScorer, beamWidth: Int) throws -> Result {
        var wordErrors = 0, words = 0, charErrors = 0, chars = 0
        let classes = model.classCount
        for (clip, p) in zip(clips, probabilities) {
            var search = try PrefixBeamSearch(classCount: classes, beamWidth: beamWidth, scorer: scorer)
            p.withUnsafeBufferPointer { search.next(probabilities: $0, frames: $0.count / classes) }
            let text = search.decode(candidates: 1).first.map { model.alphabet.decode($0.labels) } ?? ""
            let reference = clip.transcript.split(separator: " ").map(String.init)
            wordErrors += editDistance(text.split(separator: " ").map(String.init), reference)
            words += reference.count
            charErrors += editDistance(Array(text), Array(clip.transcript))
            chars += clip.transcript.count
        }
        return Result(alpha: scorer.alpha, beta: scorer.beta, wordErrorRate: Double(wordErrors) / Double(max(words, 1)),
                      characterErrorRate: Double(charErrors) / Double(max(chars, 1)))
    }

    /// Tries every pair of a grid (`steps` values each from the ranges, inclusive) and returns
    /// the results, best (lowest WER, then CER) first.
    public func grid(base: LanguageModelScorer, alphas: ClosedRange<Double>, betas: ClosedRange<Double>, steps: Int, beamWidth: Int,
                     progress: ((Int, Int, Result) -> Void)? = nil) throws -> [Result] {
        func values(_ r: ClosedRange<Double>) -> [Double] {
            steps <= 1 ? [r.lowerBound] : (0..<steps).map { r.lowerBound + (r.upperBound - r.lowerBound) * Double($0) / Double(steps - 1) }
        }
        let pairs = values(alphas).flatMap { a in values(betas).map { (a, $0) } }
        return try search(base: base, pairs: pairs, beamWidth: beamWidth, progress: progress)
    }

    /// Tries `trials` pairs drawn uniformly (seeded, reproducible) from the ranges.
    public func random(base: LanguageModelScorer, alphas: ClosedRange<Double>, betas: ClosedRange<Double>, trials: Int, seed: UInt64,
                       beamWidth: Int, progress: ((Int, Int, Result) -> Void)? = nil) throws -> [Result] {
        var state = seed
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        let pairs = (0..<trials).map { _ in
            (alphas.lowerBound + uniform() * (alphas.upperBound - alphas.lowerBound), betas.lowerBound + uniform() * (betas.upperBound - betas.lowerBound))
        }
        return try search(base: base, pairs: pairs, beamWidth: beamWidth, progress: progress)
    }

    func search(base: LanguageModelScorer, pairs: [(Double, Double)], beamWidth: Int, progress: ((Int, Int, Result) -> Void)?) throws -> [Result] {
        var results: [Result] = []
        for (i, (alpha, beta)) in pairs.enumerated() {
            let scorer = base.with(alpha: alpha, beta: beta)
            let result = try evaluate(scorer: scorer, beamWidth: beamWidth)
            results.append(result)
            progress?(i + 1, pairs.count, result)
        }
        return results.sorted { ($0.wordErrorRate, $0.characterErrorRate) < ($1.wordErrorRate, $1.characterErrorRate) }
    }
}

/// Levenshtein distance between two sequences (insertions, deletions and substitutions cost 1):
/// word errors for word arrays, character errors for character arrays.
public func editDistance<T: Equatable>(_ a: [T], _ b: [T]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
