import Foundation
import DeepSpeech

/// Audio as a request carries it: a file in any format the CLI reads, or headerless 16-bit
/// little-endian PCM (Rhasspy's `?noheader=true`, WebSocket and Wyoming chunks).
public enum UploadedAudio: Sendable {
    case file(bytes: [UInt8], name: String)
    case pcm16(bytes: [UInt8], sampleRate: Int, channels: Int, name: String)

    var name: String {
        switch self {
        case .file(_, let name), .pcm16(_, _, _, let name): return name
        }
    }
}

/// Headerless 16-bit little-endian PCM held in memory, as an ``AudioSource``: the same
/// scaling (2⁻¹⁵) as ``RawPCMStream``; a trailing odd byte is dropped.
final class PCM16BytesSource: AudioSource {
    let name: String
    let sampleRate: Int
    let channels: Int
    private let bytes: [UInt8]
    private var offset = 0

    init(bytes: [UInt8], sampleRate: Int, channels: Int, name: String) throws {
        guard AudioFileStream.sampleRates.contains(sampleRate), (1...AudioFileStream.maximumChannels).contains(channels) else {
            throw AudioError(path: name, problem: .invalidArgument(
                "raw PCM needs a sample rate of \(AudioFileStream.sampleRates.lowerBound)-\(AudioFileStream.sampleRates.upperBound) Hz and 1-\(AudioFileStream.maximumChannels) channels (got \(sampleRate) Hz, \(channels) channels)"))
        }
        self.bytes = bytes
        self.sampleRate = sampleRate
        self.channels = channels
        self.name = name
    }

    var estimatedFrameCount: Int? { bytes.count / (2 * channels) }

    func read(maxFrames: Int) throws -> [Float] {
        let frameBytes = 2 * channels
        let frames = min(maxFrames, (bytes.count - offset) / frameBytes)
        guard frames > 0 else { return [] }
        let out = RawPCMStream.samples(pcm16: bytes[offset...], count: frames * channels)
        offset += frames * frameBytes
        return out
    }
}

/// Stops a source after `limit` seconds with ``ServerError`` 413, however long the header
/// says it is: the decoding work is bounded by what the server accepts.
final class LimitedAudioSource: AudioSource {
    let source: any AudioSource
    let limit: Double
    private var frames = 0

    init(_ source: any AudioSource, limit: Double) { self.source = source; self.limit = limit }

    var name: String { source.name }
    var sampleRate: Int { source.sampleRate }
    var channels: Int { source.channels }
    var estimatedFrameCount: Int? { source.estimatedFrameCount }

    func read(maxFrames: Int) throws -> [Float] {
        let block = try source.read(maxFrames: maxFrames)
        frames += block.count / max(1, channels)
        if Double(frames) / Double(sampleRate) > limit { throw Self.tooLong(name, limit) }
        return block
    }

    static func tooLong(_ name: String, _ limit: Double) -> ServerError {
        .tooLarge("\(name): the audio is longer than the server's limit of \(limit) s (--max-audio-seconds)")
    }
}

/// Where uploads are written for libsndfile to read: a private folder, one file per request,
/// removed as soon as it is decoded.
struct UploadFolder: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("deepspeech-serve-\(getpid())", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
    }

    /// Runs `body` with the bytes written to a fresh file, then removes the file.
    func withFile<T>(_ bytes: [UInt8], _ body: (String) throws -> T) throws -> T {
        let path = url.appendingPathComponent(UUID().uuidString).path
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            throw ServerError(.internalServerError, "cannot write the upload to \(url.path)", cause: "internal", type: "server_error")
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try body(path)
    }
}
