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

    /// - Throws: `PrefixBeamSearchError` for impossible options (beam width < 1, …).
    init(model: SpeechModel, options: DecodingOptions) throws {
        self.model = model
        self.options = options
        let h = model.acoustic.hyperparameters
        let width = 2 * h.nContext + 1
        window = [Float](repeating: 0, count: model.features.windowLength)
        context = [Float](repeating: 0, count: width * h.nInput)
        contextFill = h.nContext
        batch = [Float](repeating: 0, count: h.nSteps * width * h.nInput)
        frame = [Float](repeating: 0, count: h.nInput)
        probabilities = [Float](repeating: 0, count: h.nSteps * h.nClasses)
        featureScratch = model.features.makeScratch()
        state = model.acoustic.makeState()
        decoder = try PrefixBeamSearch(classCount: h.nClasses, beamWidth: options.beamWidth ?? model.defaultBeamWidth,
                                       cutoffTopN: options.cutoffTopN, cutoffProbability: options.cutoffProbability)
    }

    /// Feeds mono samples at the model's rate. Any chunk size works, including 0 and 1.
    public mutating func feed(_ samples: [Float]) {
        samplesFed += samples.count
        let windowLength = model.features.windowLength, step = model.features.stepLength
        var offset = 0
        while offset < samples.count {
            let n = min(windowLength - windowFill, samples.count - offset)
            for i in 0..<n { window[windowFill + i] = samples[offset + i] }
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

    /// Flushes the buffers and returns the final candidates. The stream is spent afterwards.
    public mutating func finish() -> Transcription {
        computeFrame(sampleCount: windowFill)
        let h = model.acoustic.hyperparameters
        for i in 0..<h.nInput { frame[i] = 0 }
        for _ in 0..<h.nContext { pushFrame() }
        runBatch()
        return decode()
    }

    /// The candidates for what the model has processed so far (full batches only, as
    /// Coqui STT's `IntermediateDecode`).
    public func intermediate() -> Transcription { decode() }

    // MARK: - Stages

    private mutating func computeFrame(sampleCount: Int) {
        let start = DispatchTime.now()
        let features = model.features
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
        let h = model.acoustic.hyperparameters
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
        guard batchFill > 0 else { return }
        let steps = batchFill
        let classes = model.acoustic.hyperparameters.nClasses
        let start = DispatchTime.now()
        let acoustic = model.acoustic
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
            decoder.next(probabilities: UnsafeBufferPointer(rebasing: p[0..<(steps * classes)]), frames: steps)
        }
        timings.decoding += DispatchTime.secondsSince(modelDone)
        batchFill = 0
    }

    private func decode() -> Transcription {
        let start = DispatchTime.now()
        let step = model.secondsPerFrame
        let candidates = decoder.decode(candidates: max(1, options.candidates)).map { c -> Candidate in
            let tokens = zip(c.labels, c.timesteps).map { label, timestep in
                Token(text: model.alphabet.label(label), timestep: timestep, startTime: roundedSeconds(Double(timestep) * step))
            }
            return Candidate(text: model.alphabet.decode(c.labels), confidence: c.confidence, tokens: tokens)
        }
        var timings = self.timings
        timings.decoding += DispatchTime.secondsSince(start)
        return Transcription(candidates: candidates, audioSeconds: Double(samplesFed) / Double(model.sampleRate), timings: timings)
    }
}

extension DispatchTime {
    static func secondsSince(_ start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}
