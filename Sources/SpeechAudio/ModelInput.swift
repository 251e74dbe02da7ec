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

/// Mono samples at the model's rate from an ``AudioSource``, block by block: downmixed and
/// resampled on the fly, so memory does not grow with the audio's length. The samples are
/// identical to ``ModelInput/load(path:sampleRate:)``'s for the same file.
public struct ModelInputStream {
    public let source: any AudioSource
    public let sampleRate: Int
    private var resampler: ResamplingStream?
    private var finished = false
    /// Seconds of source audio read so far.
    public private(set) var secondsRead: Double = 0

    public init(source: any AudioSource, sampleRate: Int) {
        self.source = source
        self.sampleRate = sampleRate
        resampler = source.sampleRate == sampleRate ? nil
            : ResamplingStream(Resampler(inputRate: source.sampleRate, outputRate: sampleRate))
    }

    /// Opens a file (see ``AudioFileStream``).
    public init(path: String, sampleRate: Int) throws {
        self.init(source: try AudioFileStream(path: path), sampleRate: sampleRate)
    }

    /// The source's announced duration, if known.
    public var estimatedDuration: Double? { source.estimatedDuration }

    /// The next block of about `maxFrames` source frames, converted; `nil` at the end.
    /// A block may be empty while a resampler is filling its filter.
    public mutating func next(maxFrames: Int = 16384) throws -> [Float]? {
        if finished { return nil }
        let block = try source.read(maxFrames: maxFrames)
        if block.isEmpty {
            finished = true
            let tail = resampler?.finish() ?? []
            return tail.isEmpty ? nil : tail
        }
        secondsRead += Double(block.count / source.channels) / Double(source.sampleRate)
        let mono = ModelInput.downmix(block, channels: source.channels)
        guard resampler != nil else { return mono }
        return resampler!.process(mono)
    }
}
