import Foundation
internal import _CSndFile

/// Where audio comes from, block by block: a file (``AudioFileStream``) or raw PCM on a pipe
/// (``RawPCMStream``). Reading in blocks keeps memory constant however long the audio is.
public protocol AudioSource: AnyObject {
    /// What to call the source in messages (a path, or "<stdin>").
    var name: String { get }
    var sampleRate: Int { get }
    var channels: Int { get }
    /// Frames the header announces, if it does (pipes and some containers do not).
    var estimatedFrameCount: Int? { get }
    /// Up to `maxFrames` interleaved frames, floats in [-1, 1); empty at the end.
    func read(maxFrames: Int) throws -> [Float]
}

extension AudioSource {
    /// The announced duration in seconds, if known.
    public var estimatedDuration: Double? { estimatedFrameCount.map { Double($0) / Double(sampleRate) } }
}

/// An audio file opened with libsndfile and read block by block (WAV, FLAC, OGG/Vorbis, …;
/// the same checks and messages as ``AudioFileReader``).
public final class AudioFileStream: AudioSource {
    public let name: String
    public let sampleRate: Int
    public let channels: Int
    public let estimatedFrameCount: Int?
    /// libsndfile's description of the encoding, e.g. "WAV, PCM 16-bit".
    public let formatDescription: String
    /// 16-bit PCM: samples are exactly `Float(Int16) / 32768`, as the native clients scale them.
    public let isPCM16: Bool
    private let file: OpaquePointer
    private var shorts: [Int16] = []
    /// Frames returned so far (to say where a bad sample is).
    private var framesRead = 0

    /// The most channels a file may declare (libsndfile itself allows 1024).
    public static let maximumChannels = 64
    /// The sample rates a file may declare.
    public static let sampleRates = 1000...768_000

    public init(path: String) throws {
        try AudioFileReader.preflight(path: path)
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            let message = String(cString: sf_strerror(nil))
            throw AudioError(path: path, problem: .notAudio("libsndfile: \(message)"))
        }
        // Buffers are sized from these, so implausible values are refused before any allocation.
        guard (1...Self.maximumChannels).contains(Int(info.channels)), Self.sampleRates.contains(Int(info.samplerate)) else {
            sf_close(file)
            throw AudioError(path: path, problem: .unsupported(
                "header reports \(info.channels) channels at \(info.samplerate) Hz; expected 1-\(Self.maximumChannels) channels at \(Self.sampleRates.lowerBound)-\(Self.sampleRates.upperBound) Hz"))
        }
        self.file = file
        name = path
        sampleRate = Int(info.samplerate)
        channels = Int(info.channels)
        // Some containers (OGG, pipes) only estimate the length; it is used for progress only.
        estimatedFrameCount = info.frames > 0 && info.frames < Int64(Int.max / 2) ? Int(info.frames) : nil
        isPCM16 = Int(info.format) & Int(SF_FORMAT_SUBMASK) == Int(SF_FORMAT_PCM_16)
        formatDescription = AudioFileReader.formatName(Int(info.format))
    }

    deinit { sf_close(file) }

    public func read(maxFrames: Int) throws -> [Float] {
        precondition(maxFrames > 0, "maxFrames must be positive")
        var out = [Float](repeating: 0, count: maxFrames * channels)
        let got: Int
        if isPCM16 {
            // Read as shorts so that the scaling is exactly 2⁻¹⁵, whatever libsndfile's own is.
            if shorts.count < out.count { shorts = [Int16](repeating: 0, count: out.count) }
            got = Int(shorts.withUnsafeMutableBufferPointer { sf_readf_short(file, $0.baseAddress, sf_count_t(maxFrames)) })
            if got > 0 { for i in 0..<(got * channels) { out[i] = Float(shorts[i]) * (1.0 / 32768.0) } }
        } else {
            got = Int(out.withUnsafeMutableBufferPointer { sf_readf_float(file, $0.baseAddress, sf_count_t(maxFrames)) })
        }
        if sf_error(file) != 0 {
            throw AudioError(path: name, problem: .unsupported("libsndfile: \(String(cString: sf_strerror(file)))"))
        }
        out.removeLast(out.count - max(0, got) * channels)
        if !isPCM16 { try checkAndClip(&out) }
        framesRead += max(0, got)
        return out
    }

    /// Floating-point (and 32-bit integer, which libsndfile may scale past 1) samples are
    /// clipped to [-1, 1], as a conversion to 16-bit PCM clips them; NaN and ±infinity have
    /// no value to clip to, and are refused with their position rather than turned into a
    /// transcript of noise.
    private func checkAndClip(_ samples: inout [Float]) throws {
        for i in samples.indices {
            let value = samples[i]
            if value.isFinite {
                if value > 1 { samples[i] = 1 } else if value < -1 { samples[i] = -1 }
                continue
            }
            let frame = framesRead + i / channels
            let seconds = Double(frame) / Double(sampleRate)
            let what = value.isNaN ? "NaN" : (value < 0 ? "-infinity" : "infinity")
            let channel = channels > 1 ? ", channel \(i % channels + 1)" : ""
            throw AudioError(path: name, problem: .nonFiniteSample(
                "sample frame \(frame)\(channel) (at \(String(format: "%.3f", seconds)) s) is \(what)"))
        }
    }
}

/// Headerless 16-bit signed little-endian PCM from a file handle (standard input, a pipe),
/// as `sox … -t raw -` or `arecord -t raw` write it.
public final class RawPCMStream: AudioSource {
    public let name: String
    public let sampleRate: Int
    public let channels: Int
    public var estimatedFrameCount: Int? { nil }
    private let handle: FileHandle
    private var pending: [UInt8] = []

    public init(handle: FileHandle = .standardInput, name: String = "<stdin>", sampleRate: Int, channels: Int = 1) throws {
        guard sampleRate > 0, channels > 0 else {
            throw AudioError(path: name, problem: .invalidArgument("raw PCM needs a positive sample rate and channel count"))
        }
        self.handle = handle
        self.name = name
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// Blocks until `maxFrames` frames arrived or the input ended, so a live pipe is
    /// consumed in chunks of the size asked for.
    public func read(maxFrames: Int) throws -> [Float] {
        precondition(maxFrames > 0, "maxFrames must be positive")
        let frameBytes = 2 * channels
        let wanted = maxFrames * frameBytes
        while pending.count < wanted {
            let data: Data?
            do { data = try handle.read(upToCount: wanted - pending.count) } catch {
                throw AudioError(path: name, problem: .unreadable("\(error)"))
            }
            guard let data, !data.isEmpty else { break }
            pending.append(contentsOf: data)
        }
        let frames = pending.count / frameBytes
        let out = Self.samples(pcm16: pending, count: frames * channels)
        pending.removeFirst(frames * frameBytes)   // an odd trailing byte at the very end is dropped
        return out
    }

    /// The first `count` little-endian 16-bit samples of `bytes`, scaled by 2⁻¹⁵ as the native
    /// clients scale them.
    public static func samples(pcm16 bytes: some RandomAccessCollection<UInt8>, count: Int) -> [Float] {
        precondition(count >= 0 && 2 * count <= bytes.count, "not enough bytes for \(count) samples")
        var out = [Float](repeating: 0, count: count)
        var p = bytes.startIndex
        for i in 0..<count {
            let low = bytes[p]
            p = bytes.index(after: p)
            let high = bytes[p]
            p = bytes.index(after: p)
            out[i] = Float(Int16(bitPattern: UInt16(low) | UInt16(high) << 8)) * (1.0 / 32768.0)
        }
        return out
    }
}
