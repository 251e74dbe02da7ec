import Foundation

extension SpeechModel {
    /// The acoustic model's probabilities `[steps][classes]` for mono samples at the model's rate,
    /// batched as a stream would batch them.
    /// For DeepSpeech2 the blank's column is moved last, as the decoder expects.
    public func probabilities(_ samples: [Float]) throws -> [Float] {
        guard let acoustic, let features else {
            var timings = StageTimings()
            return wholeUtteranceProbabilities(samples, timings: &timings)
        }
        let h = acoustic.hyperparameters
        let frames = features.framesLikeNativeClient(samples)
        let steps = frames.count / h.nInput
        let windows = ContextWindows.make(frames: frames, featureCount: h.nInput, context: h.nContext)
        var out = [Float](repeating: 0, count: steps * h.nClasses)
        var state = acoustic.makeState()
        windows.withUnsafeBufferPointer { w in
            out.withUnsafeMutableBufferPointer { p in acoustic.forward(windows: w, steps: steps, state: &state, probabilities: p) }
        }
        return out
    }

    /// DeepSpeech2's probabilities `[frames][classes]` for a whole utterance, the blank's
    /// column moved last. `observer` sees the spectrogram and every layer's output.
    func wholeUtteranceProbabilities(_ samples: [Float], timings: inout StageTimings,
                                     observer: DeepSpeech2Model.ActivationObserver? = nil) -> [Float] {
        guard case .deepSpeech2(let network) = self.network, let spectrogram else { return [] }
        let start = DispatchTime.now()
        // The model was trained on int16 / audioScale; the samples here are int16 / 32768.
        let gain = 32768 / network.configuration.audioScale
        let input = gain == 1 ? samples : samples.map { $0 * gain }
        let spect = spectrogram.compute(input)
        let frames = spectrogram.frameCount(sampleCount: samples.count)
        observer?("spectrogram", spect, [frames, spectrogram.binCount])
        let featuresDone = DispatchTime.now()
        timings.features += DispatchTime.secondsSince(start)
        // The network's own probabilities are in its class order; observers get them as the
        // decoder does, blank last, like every other model's `probabilities` stage.
        let raw = network.probabilities(spectrogram: spect, frames: frames) { name, values, shape in
            if name != "probabilities" { observer?(name, values, shape) }
        }
        timings.acousticModel += DispatchTime.secondsSince(featuresDone)
        let classes = network.classCount, blank = network.configuration.blankIndex
        var out = raw
        if blank != classes - 1 {
            for t in 0..<(raw.count / classes) {
                var k = 0
                for c in 0..<classes where c != blank { out[t * classes + k] = raw[t * classes + c]; k += 1 }
                out[t * classes + classes - 1] = raw[t * classes + blank]
            }
        }
        observer?("probabilities", out, [out.count / classes, classes])
        return out
    }
}
