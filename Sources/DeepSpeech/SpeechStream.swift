import Foundation

/// Per-utterance state: audio, feature and batch buffers, the LSTM state and the decoder.
///
/// Buffering is the Coqui STT 1.4 native client's, so results equal the reference engine's
/// for the same audio:
/// 1. samples collect in a window buffer (512); each full window gives one MFCC frame, then
///    the buffer shifts left by the step (320);
/// 2. frames collect in a context buffer that starts with `nContext` (9) zero frames; each
///    time it holds `2·nContext + 1` (19) frames, that window becomes one time step;
/// 3. time steps collect in a batch of `nSteps` (16); a full batch runs through the acoustic
///    model (LSTM state carried over) and its probabilities go to the decoder;
/// 4. `finish` computes a frame from the partial window (zero-padded), appends 9 zero
///    frames, runs the partial batch, and decodes.
///
/// The decoder consumes each batch's 16 frames as they come, so an intermediate decode costs
/// the same after ten minutes as after ten seconds (sorting the beam and reading out the best
/// prefix). A stream is a value with its own state: many streams can run at once, on any
/// threads, over one shared `SpeechModel`.
/// Memory does not grow with the audio's length except for the decoder's prefix tree, which
/// the beam width bounds.
public struct SpeechStream: Sendable {
    public let model: SpeechModel
    public let options: DecodingOptions

    private var window: [Float]          // [windowLength], `windowFill` valid
    private var windowFill = 0
    private var context: [Float]         // [2·nContext+1][nInput], sliding
    private var contextFill: Int         // frames in `context`
    private var batch: [Float]           // [nSteps][(2·nContext+1)·nInput]
    private var batchFill = 0            // time steps in `batch`
    private var frame: [Float]           // [nInput]
    private var probabilities: [Float]   // [nSteps][nClasses]
    private var featureScratch: FeatureExtractor.Scratch
    private var state: DeepSpeechState
    private var decoder: PrefixBeamSearch
    private var timings = StageTimings()
    private var samplesFed = 0
    /// Text of the decoder's stable labels (those every beam prefix starts with), kept
    /// up to date after each batch so a partial result only converts the open end.
    private var stableText = ""
    private var stableCount = 0
    /// Everything fed since the last finish, for networks that run over whole utterances
    /// (DeepSpeech2); empty for DeepSpeech, which consumes audio as it comes.
    private var utterance: [Float] = []

    /// - Throws: `PrefixBeamSearchError` for impossible options (beam width < 1, …).
    init(model: SpeechModel, options: DecodingOptions) throws {
        self.model = model
        self.options = options
        decoder = try Self.makeDecoder(model: model, options: options)
        guard let acoustic = model.acoustic, let features = model.features else {
            window = []; context = []; contextFill = 0; batch = []; frame = []; probabilities = []
            featureScratch = .empty
            state = DeepSpeechState.empty
            return
        }
        let h = acoustic.hyperparameters
        let width = 2 * h.nContext + 1
        window = [Float](repeating: 0, count: features.windowLength)
        context = [Float](repeating: 0, count: width * h.nInput)
        contextFill = h.nContext
        batch = [Float](repeating: 0, count: h.nSteps * width * h.nInput)
        frame = [Float](repeating: 0, count: h.nInput)
        probabilities = [Float](repeating: 0, count: h.nSteps * h.nClasses)
        featureScratch = features.makeScratch()
        state = acoustic.makeState()
    }

    private static func makeDecoder(model: SpeechModel, options: DecodingOptions) throws -> PrefixBeamSearch {
        try PrefixBeamSearch(classCount: model.classCount,
                             beamWidth: options.beamWidth ?? model.defaultBeamWidth,
                             cutoffTopN: options.cutoffTopN, cutoffProbability: options.cutoffProbability,
                             scorer: options.scorer)
    }

    /// Seconds of audio fed since the stream was created or last finished.
    public var audioSeconds: Double { Double(samplesFed) / Double(model.sampleRate) }

    /// Feeds mono samples at the model's rate, floats in [-1, 1). Any chunk size works,
    /// including 0 and 1; the result does not depend on how the audio is split into calls.
    /// Samples outside [-1, 1] are clipped (as converting to 16-bit PCM would) and NaN is
    /// taken as silence, so no input can poison the stream's state; file readers refuse
    /// non-finite samples before they get here.
    public mutating func feed(_ samples: [Float]) {
        samples.withUnsafeBufferPointer { feed($0) }
    }

    /// Feeds 16-bit PCM samples, scaled by 2⁻¹⁵ as the native clients do.
    public mutating func feed(pcm16 samples: [Int16]) {
        var converted = [Float](repeating: 0, count: samples.count)
        for i in 0..<samples.count { converted[i] = Float(samples[i]) * (1.0 / 32768.0) }
        feed(converted)
    }

    /// Feeds mono samples at the model's rate from a buffer.
    public mutating func feed(_ samples: UnsafeBufferPointer<Float>) {
        samplesFed += samples.count
        guard let features = model.features else {
            utterance.append(contentsOf: samples.lazy.map(Self.clipped))
            return
        }
        let windowLength = features.windowLength, step = features.stepLength
        var offset = 0
        while offset < samples.count {
            let n = min(windowLength - windowFill, samples.count - offset)
            for i in 0..<n { window[windowFill + i] = Self.clipped(samples[offset + i]) }
            windowFill += n
            offset += n
            if windowFill == windowLength {
                computeFrame(sampleCount: windowLength)
                // Keep the last windowLength − step samples.
                for i in 0..<(windowLength - step) { window[i] = window[i + step] }
                windowFill = windowLength - step
            }
        }
    }

    /// `value` clipped to [-1, 1]; NaN becomes 0.
    @inline(__always) static func clipped(_ value: Float) -> Float {
        value.isNaN ? 0 : min(max(value, -1), 1)
    }

    // MARK: - Results

    /// The best transcript of what the acoustic model has processed so far: full batches of
    /// 16 time steps only, so it lags the audio by up to about 0.5 s, exactly as Coqui STT's
    /// `IntermediateDecode`. Does not change the stream. Costs O(beam width + transcript
    /// length), independent of how much audio came before.
    public func intermediate() -> String {
        if !model.isStreaming { return wholeUtterance(candidates: 1).text }
        // Byte alphabets can split a character between the stable and the open part.
        guard !model.alphabet.isUTF8Bytes, stableCount == decoder.stableLabelCount else {
            return model.alphabet.decode(decoder.bestLabels())
        }
        return stableText + model.alphabet.decode(decoder.bestLabelsAfterStable())
    }

    /// Like ``intermediate()``, with `candidates` candidates (default: the stream's
    /// `DecodingOptions.candidates`), tokens, word timings and confidences
    /// (Coqui's `IntermediateDecodeWithMetadata`).
    public func intermediateWithMetadata(candidates: Int? = nil) -> Transcription {
        if !model.isStreaming { return wholeUtterance(candidates: candidates) }
        return decode(candidates: candidates)
    }

    /// Runs the buffered audio through the model before decoding, so the result covers
    /// everything fed so far but the last few frames' look-ahead (Coqui's
    /// `IntermediateDecodeFlushBuffers`): the partial audio window becomes one zero-padded
    /// frame and the partial batch is processed. This changes the stream: the extra frame
    /// stays in its features (the audio window itself is kept), so later results equal
    /// Coqui's after the same calls, not those of a stream that was never flushed.
    public mutating func intermediateFlushingBuffers() -> String {
        flushBuffers(addingContext: false)
        return intermediate()
    }

    /// ``intermediateFlushingBuffers()`` with metadata (Coqui's
    /// `IntermediateDecodeWithMetadataFlushBuffers`).
    public mutating func intermediateWithMetadataFlushingBuffers(candidates: Int? = nil) -> Transcription {
        if !model.isStreaming { return wholeUtterance(candidates: candidates) }
        flushBuffers(addingContext: false)
        return decode(candidates: candidates)
    }

    /// Flushes the buffers (the partial window as one zero-padded frame, then `nContext` zero
    /// frames of look-ahead, then the partial batch) and returns the best transcript. The
    /// stream is then reset, ready for a new utterance (timesteps start at 0 again).
    public mutating func finish() -> String {
        finishWithMetadata(candidates: 1).text
    }

    /// ``finish()`` with `candidates` candidates (default: the stream's
    /// `DecodingOptions.candidates`), tokens, words and confidences. Equal to
    /// `SpeechModel.transcribeWithMetadata` on the same samples, however they were fed.
    public mutating func finishWithMetadata(candidates: Int? = nil) -> Transcription {
        if !model.isStreaming {
            let result = wholeUtterance(candidates: candidates)
            reset()
            return result
        }
        flushBuffers(addingContext: true)
        let result = decode(candidates: candidates)
        reset()
        return result
    }

    /// Drops everything fed so far and starts a new utterance, keeping the allocated buffers.
    public mutating func reset() {
        // The options were validated when the stream was made.
        decoder = try! Self.makeDecoder(model: model, options: options)
        timings = StageTimings()
        samplesFed = 0
        stableText = ""
        stableCount = 0
        utterance = []
        guard let acoustic = model.acoustic else { return }
        windowFill = 0
        for i in 0..<context.count { context[i] = 0 }
        contextFill = acoustic.hyperparameters.nContext
        batchFill = 0
        state = acoustic.makeState()
    }

    /// DeepSpeech2: the whole utterance so far through the network and a fresh decoder. A
    /// partial result therefore costs as much as a final one, growing with the audio.
    private func wholeUtterance(candidates count: Int?) -> Transcription {
        var timings = StageTimings()
        let probabilities = model.wholeUtteranceProbabilities(utterance, timings: &timings)
        let decodeStart = DispatchTime.now()
        var decoder = try! Self.makeDecoder(model: model, options: options)
        let frames = probabilities.count / model.classCount
        probabilities.withUnsafeBufferPointer { decoder.next(probabilities: $0, frames: frames) }
        let candidates = model.candidates(decoder.decode(candidates: max(1, count ?? options.candidates)))
        timings.decoding = DispatchTime.secondsSince(decodeStart)
        return Transcription(candidates: candidates, audioSeconds: Double(samplesFed) / Double(model.sampleRate), timings: timings)
    }

    private mutating func flushBuffers(addingContext: Bool) {
        computeFrame(sampleCount: windowFill)
        let h = model.acoustic!.hyperparameters
        if addingContext {
            for i in 0..<h.nInput { frame[i] = 0 }
            for _ in 0..<h.nContext { pushFrame() }
            runBatch()      // the stream ends: the LSTM state after the last real step is not needed
        } else if batchFill > 0 {
            // Coqui zero-pads a partial batch to n_steps and its graph always runs all of them,
            // so the LSTM state it carries on has also seen the zero steps. Do the same, but
            // decode only the real steps.
            let stepSize = (2 * h.nContext + 1) * h.nInput
            for i in (batchFill * stepSize)..<(h.nSteps * stepSize) { batch[i] = 0 }
            runBatch(decodingSteps: batchFill, runningSteps: h.nSteps)
        }
    }

    // MARK: - Stages

    private mutating func computeFrame(sampleCount: Int) {
        let start = DispatchTime.now()
        let features = model.features!
        var scratch = FeatureExtractor.Scratch.empty
        swap(&scratch, &featureScratch)          // moved, not copied, so it can be passed inout
        window.withUnsafeBufferPointer { w in
            frame.withUnsafeMutableBufferPointer { f in
                features.frame(UnsafeBufferPointer(rebasing: w[0..<sampleCount]), into: f, scratch: &scratch)
            }
        }
        swap(&scratch, &featureScratch)
        timings.features += DispatchTime.secondsSince(start)
        pushFrame()
    }

    /// Appends `frame` to the context buffer; emits a time step when the window is full.
    private mutating func pushFrame() {
        let h = model.acoustic!.hyperparameters
        let width = 2 * h.nContext + 1, n = h.nInput
        for i in 0..<n { context[contextFill * n + i] = frame[i] }
        contextFill += 1
        guard contextFill == width else { return }
        let stepSize = width * n
        for i in 0..<stepSize { batch[batchFill * stepSize + i] = context[i] }
        batchFill += 1
        for i in 0..<((width - 1) * n) { context[i] = context[i + n] }
        contextFill = width - 1
        if batchFill == h.nSteps { runBatch() }
    }

    private mutating func runBatch() {
        runBatch(decodingSteps: batchFill, runningSteps: batchFill)
    }

    /// Runs `runningSteps` time steps of `batch` through the acoustic model (LSTM state carried
    /// over) and feeds the first `decodingSteps` steps' probabilities to the decoder.
    private mutating func runBatch(decodingSteps: Int, runningSteps: Int) {
        guard decodingSteps > 0 else { return }
        let steps = runningSteps
        let acoustic = model.acoustic!
        let classes = acoustic.hyperparameters.nClasses
        let start = DispatchTime.now()
        var modelState = acoustic.makeEmptyState()
        swap(&modelState, &state)                // moved, not copied, so it can be passed inout
        batch.withUnsafeBufferPointer { b in
            probabilities.withUnsafeMutableBufferPointer { p in
                acoustic.forward(windows: b, steps: steps, state: &modelState, probabilities: p)
            }
        }
        swap(&modelState, &state)
        let modelDone = DispatchTime.now()
        timings.acousticModel += DispatchTime.secondsSince(start)
        probabilities.withUnsafeBufferPointer { p in
            decoder.next(probabilities: UnsafeBufferPointer(rebasing: p[0..<(decodingSteps * classes)]), frames: decodingSteps)
        }
        if decoder.stableLabelCount > stableCount {
            stableText += model.alphabet.decode(decoder.stableLabels(from: stableCount))
            stableCount = decoder.stableLabelCount
        }
        timings.decoding += DispatchTime.secondsSince(modelDone)
        batchFill = 0
    }

    private func decode(candidates count: Int?) -> Transcription {
        let start = DispatchTime.now()
        let candidates = model.candidates(decoder.decode(candidates: max(1, count ?? options.candidates)))
        var timings = self.timings
        timings.decoding += DispatchTime.secondsSince(start)
        return Transcription(candidates: candidates, audioSeconds: Double(samplesFed) / Double(model.sampleRate), timings: timings)
    }
}

extension SpeechModel {
    /// The decoder's candidates as results: text, tokens with their times, words.
    func candidates(_ transcripts: [CandidateTranscript]) -> [Candidate] {
        let step = secondsPerFrame
        return transcripts.map { c in
            let tokens = zip(c.labels, c.timesteps).map { label, timestep in
                Token(text: alphabet.label(label), timestep: timestep, startTime: roundedSeconds(Double(timestep) * step))
            }
            return Candidate(text: alphabet.decode(c.labels), confidence: c.confidence, tokens: tokens)
        }
    }
}

extension DispatchTime {
    static func secondsSince(_ start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}
