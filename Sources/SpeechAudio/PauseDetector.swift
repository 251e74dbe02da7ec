import Foundation

/// Finds pauses in speech from the signal's energy, as audio streams in, so a long recording
/// can be cut into utterances without reading ahead.
///
/// The signal is cut into 10 ms frames. A frame is *quiet* when its energy is below
/// `max(noise floor + marginDecibels, silenceDecibels)`: the noise floor follows the quietest
/// recent frames (it drops at once to a quieter frame and rises by `floorRiseDecibelsPerSecond`
/// otherwise), so steady background noise counts as quiet while speech, which is well above
/// it, does not. A run of quiet frames at least `minimumPause` long is a pause; the detector
/// reports it as soon as it has lasted that long (no look-ahead), with the time the speech
/// before it ended.
///
/// Frames of digital silence (−100 dBFS and below) never raise or lower the floor, so padded
/// silence between clips does not make the detector think the room went quiet forever.
public struct PauseDetector: Sendable {
    public struct Options: Sendable, Codable, Equatable {
        /// Shortest pause that separates utterances, seconds (default 0.5).
        public var minimumPause: Double
        /// How far above the noise floor a frame must be to count as speech, dB (default 12).
        public var marginDecibels: Double
        /// Frames quieter than this are always quiet, dBFS (default −50).
        public var silenceDecibels: Double
        /// How fast the noise-floor estimate may rise, dB per second (default 3).
        public var floorRiseDecibelsPerSecond: Double

        public init(minimumPause: Double = 0.5, marginDecibels: Double = 12, silenceDecibels: Double = -50,
                    floorRiseDecibelsPerSecond: Double = 3) {
            self.minimumPause = minimumPause
            self.marginDecibels = marginDecibels
            self.silenceDecibels = silenceDecibels
            self.floorRiseDecibelsPerSecond = floorRiseDecibelsPerSecond
        }
    }

    /// A pause long enough to end an utterance.
    public struct Pause: Sendable, Equatable {
        /// Sample index of the first loud frame since the previous pause, or `nil` if there
        /// was none (the stretch before this pause held no speech).
        public var speechStart: Int?
        /// Sample index (from the start of the signal) where the quiet run began: the end of
        /// the speech before it.
        public var speechEnd: Int
        /// Sample index at which the pause reached `minimumPause` (where it was reported).
        public var confirmedAt: Int
    }

    public let sampleRate: Int
    public let options: Options
    public let frameLength: Int
    private var frame: [Float]
    private var frameFill = 0
    private var position = 0              // samples consumed
    private var floor: Double?            // dBFS
    private var quietRun = 0              // frames
    private var quietStart = 0            // sample index
    private var reportedThisRun = false
    /// Sample index of the first loud frame since the last pause, if any.
    public private(set) var speechStart: Int?
    /// Sample index where the last loud frame ended (0 before any).
    public private(set) var speechEnd = 0

    public init(sampleRate: Int, options: Options = Options()) {
        precondition(sampleRate > 0, "sample rate must be positive")
        self.sampleRate = sampleRate
        self.options = options
        frameLength = max(1, sampleRate / 100)
        frame = [Float](repeating: 0, count: frameLength)
    }

    /// Consumes samples and returns the pauses confirmed inside them, in order.
    public mutating func process(_ samples: UnsafeBufferPointer<Float>) -> [Pause] {
        var pauses: [Pause] = []
        for x in samples {
            frame[frameFill] = x
            frameFill += 1
            position += 1
            if frameFill == frameLength {
                frameFill = 0
                if let pause = classifyFrame(endingAt: position) { pauses.append(pause) }
            }
        }
        return pauses
    }

    private mutating func classifyFrame(endingAt end: Int) -> Pause? {
        var energy = 0.0
        for x in frame { energy += Double(x) * Double(x) }
        let decibels = 10 * log10(energy / Double(frameLength) + 1e-12)
        let frameSeconds = Double(frameLength) / Double(sampleRate)
        if decibels > -100 {
            if let current = floor {
                floor = decibels < current ? decibels : current + options.floorRiseDecibelsPerSecond * frameSeconds
            } else {
                floor = decibels
            }
        }
        let threshold = max((floor ?? -100) + options.marginDecibels, options.silenceDecibels)
        let start = end - frameLength
        if decibels < threshold {
            if quietRun == 0 { quietStart = start; reportedThisRun = false }
            quietRun += 1
            if !reportedThisRun, Double(quietRun) * frameSeconds >= options.minimumPause - 1e-9 {
                reportedThisRun = true
                defer { speechStart = nil }
                return Pause(speechStart: speechStart, speechEnd: quietStart, confirmedAt: end)
            }
        } else {
            quietRun = 0
            if speechStart == nil { speechStart = start }
            speechEnd = end
        }
        return nil
    }
}
