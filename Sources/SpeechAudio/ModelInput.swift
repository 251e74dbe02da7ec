/// Turns decoded audio into what an acoustic model consumes: mono samples at the model's
/// sample rate.
///
/// 16 kHz mono input going to a 16 kHz model passes through untouched, so 16-bit PCM reaches
/// the model exactly as the reference native clients see it (`Int16 · 2⁻¹⁵`).
public enum ModelInput {
    /// Averages the channels of interleaved audio into one.
    public static func downmix(_ samples: [Float], channels: Int) -> [Float] {
        guard channels > 1 else { return samples }
        let frames = samples.count / channels
        var mono = [Float](repeating: 0, count: frames)
        let scale = 1 / Float(channels)
        for f in 0..<frames {
            var sum: Float = 0
            for c in 0..<channels { sum += samples[f * channels + c] }
            mono[f] = sum * scale
        }
        return mono
    }

    /// Mono samples at `sampleRate`, resampled with `Resampler` when the rates differ.
    public static func monoSamples(_ audio: DecodedAudio, sampleRate: Int) -> [Float] {
        let mono = downmix(audio.samples, channels: audio.channels)
        if audio.sampleRate == sampleRate { return mono }
        return Resampler(inputRate: audio.sampleRate, outputRate: sampleRate).process(mono)
    }

    /// Reads a file and returns mono samples at `sampleRate`.
    public static func load(path: String, sampleRate: Int) throws -> [Float] {
        monoSamples(try AudioFileReader.read(path: path), sampleRate: sampleRate)
    }
}
