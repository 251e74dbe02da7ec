import Foundation
internal import _CSndFile

/// Decoded audio as it came out of the file: interleaved frames, before any conversion.
public struct DecodedAudio: Sendable {
    /// Interleaved samples in [-1, 1): `samples[frame * channels + channel]`.
    public var samples: [Float]
    public var sampleRate: Int
    public var channels: Int
    /// libsndfile's description of the encoding, e.g. "WAV, PCM 16-bit".
    public var formatDescription: String
    /// True when the file is 16-bit PCM; its samples are exactly `Float(Int16) / 32768`,
    /// the scaling the DeepSpeech/Coqui native clients apply.
    public var isPCM16: Bool

    public var frameCount: Int { channels == 0 ? 0 : samples.count / channels }
    public var duration: Double { sampleRate == 0 ? 0 : Double(frameCount) / Double(sampleRate) }
}

/// Reads WAV (8/16/24/32-bit PCM, float), FLAC, OGG/Vorbis and whatever else the system's
/// libsndfile decodes.
///
/// Before handing a file to libsndfile the reader looks at its first bytes, so that an empty
/// file, a model or scorer passed by mistake, or a RIFF/WAVE file cut short gets a message that
/// says exactly that instead of libsndfile's generic "unknown format".
public enum AudioFileReader {
    /// Decodes a whole file into memory. For long files use ``AudioFileStream``, which reads
    /// block by block.
    public static func read(path: String) throws -> DecodedAudio {
        let stream = try AudioFileStream(path: path)
        var samples: [Float] = []
        if let frames = stream.estimatedFrameCount, frames < Int(Int32.max) {
            samples.reserveCapacity(frames * stream.channels)
        }
        while true {
            let block = try stream.read(maxFrames: 16384)
            if block.isEmpty { break }
            samples.append(contentsOf: block)
        }
        if samples.isEmpty { throw AudioError(path: path, problem: .noSamples) }
        return DecodedAudio(samples: samples, sampleRate: stream.sampleRate, channels: stream.channels,
                            formatDescription: stream.formatDescription, isPCM16: stream.isPCM16)
    }

    /// Checks that `path` is a readable, non-empty file that looks like audio, and returns
    /// its size.
    static func preflight(path: String) throws {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw AudioError(path: path, problem: .unreadable("no such file or not accessible"))
        }
        if (attributes[.type] as? FileAttributeType) == .typeDirectory {
            throw AudioError(path: path, problem: .unreadable("it is a directory"))
        }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        if size == 0 { throw AudioError(path: path, problem: .empty) }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw AudioError(path: path, problem: .unreadable("permission denied"))
        }
        let head = [UInt8]((try? handle.read(upToCount: 64)) ?? Data())
        try? handle.close()
        try checkHeader(head, fileSize: size, path: path)
    }

    /// Recognises files that are clearly not audio, and RIFF/WAVE files whose data chunk is
    /// shorter than the header says (a copy cut off mid-transfer).
    static func checkHeader(_ head: [UInt8], fileSize: Int, path: String) throws {
        func ascii(_ range: Range<Int>) -> String {
            guard head.count >= range.upperBound else { return "" }
            return String(decoding: head[range], as: UTF8.self)
        }
        if ascii(4..<8) == "TFL3" {
            throw AudioError(path: path, problem: .notAudio("it is a TensorFlow Lite model; pass it with --model"))
        }
        if ascii(0..<32).hasPrefix("mmap lm http://kheafield.com/code") || ascii(0..<12) == "mmap lm http" {
            throw AudioError(path: path, problem: .notAudio("it is a KenLM language model or scorer package; pass it with --scorer"))
        }
        if ascii(0..<6) == "\\data\\" || ascii(0..<7) == "\n\\data\\" {
            throw AudioError(path: path, problem: .notAudio("it is an ARPA language model"))
        }
        if ascii(0..<4) == "RIFF" && ascii(8..<12) == "WAVE" {
            if fileSize < 44 {
                throw AudioError(path: path, problem: .truncated(expectedBytes: 44, actualBytes: fileSize))
            }
            try checkWaveDataChunk(path: path, fileSize: fileSize)
        }
    }

    /// Walks the RIFF chunk list to the `data` chunk and compares its declared size with the
    /// bytes on disk. Sizes of 0 and 0xFFFFFFFF mean "unknown" (streams written to a pipe)
    /// and are accepted; libsndfile then reads to the end of the file.
    static func checkWaveDataChunk(path: String, fileSize: Int) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        var offset = 12
        while offset + 8 <= fileSize {
            try? handle.seek(toOffset: UInt64(offset))
            guard let header = try? handle.read(upToCount: 8), header.count == 8 else { return }
            let bytes = [UInt8](header)
            let id = String(decoding: bytes[0..<4], as: UTF8.self)
            let length = Int(UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24)
            if id == "data" {
                if length == 0 || length == 0xFFFF_FFFF { return }
                let available = fileSize - (offset + 8)
                if available < length {
                    throw AudioError(path: path, problem: .truncated(expectedBytes: length, actualBytes: available))
                }
                return
            }
            offset += 8 + length + (length & 1)
        }
    }

    static func formatName(_ format: Int) -> String {
        var info = SF_FORMAT_INFO()
        var major = "unknown container", minor = "unknown encoding"
        info.format = Int32(format & Int(SF_FORMAT_TYPEMASK))
        if sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &info, Int32(MemoryLayout<SF_FORMAT_INFO>.size)) == 0,
           let name = info.name { major = String(cString: name) }
        info = SF_FORMAT_INFO()
        info.format = Int32(format & Int(SF_FORMAT_SUBMASK))
        if sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &info, Int32(MemoryLayout<SF_FORMAT_INFO>.size)) == 0,
           let name = info.name { minor = String(cString: name) }
        return "\(major), \(minor)"
    }
}
