import Foundation

/// Writes minimal RIFF/WAVE files for tests (PCM 16-bit or IEEE float 32-bit).
public enum WAVWriter {
    public static func pcm16(_ samples: [Int16], sampleRate: Int, channels: Int = 1) -> Data {
        var payload = Data(capacity: samples.count * 2)
        for s in samples { withUnsafeBytes(of: s.littleEndian) { payload.append(contentsOf: $0) } }
        return wave(payload: payload, format: 1, bitsPerSample: 16, sampleRate: sampleRate, channels: channels)
    }

    public static func float32(_ samples: [Float], sampleRate: Int, channels: Int = 1) -> Data {
        var payload = Data(capacity: samples.count * 4)
        for s in samples { withUnsafeBytes(of: s.bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
        return wave(payload: payload, format: 3, bitsPerSample: 32, sampleRate: sampleRate, channels: channels)
    }

    public static func wave(payload: Data, format: UInt16, bitsPerSample: UInt16, sampleRate: Int, channels: Int) -> Data {
        var d = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        d.append(contentsOf: Array("RIFF".utf8)); u32(UInt32(36 + payload.count)); d.append(contentsOf: Array("WAVE".utf8))
        d.append(contentsOf: Array("fmt ".utf8)); u32(16); u16(format); u16(UInt16(channels)); u32(UInt32(sampleRate))
        let blockAlign = UInt16(channels) * bitsPerSample / 8
        u32(UInt32(sampleRate) * UInt32(blockAlign)); u16(blockAlign); u16(bitsPerSample)
        d.append(contentsOf: Array("data".utf8)); u32(UInt32(payload.count)); d.append(payload)
        return d
    }

    public static func temporaryFile(_ data: Data, name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("speechaudio-tests-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }
}
