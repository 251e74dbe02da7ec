/// The central directory of a zip archive whose entries are read in place, as `torch.save`
/// writes them: STORED (uncompressed), with the payload found through each entry's
/// **local** header (torch pads the local extra field so payloads start on 64-byte
/// boundaries, and the central directory does not repeat that padding). Zip64 records and
/// extra fields are understood, so archives over 4 GiB or with many entries read too.
struct StoredZipArchive {
    struct Entry {
        let name: String
        let method: UInt16
        let flags: UInt16
        let compressedSize: Int
        let uncompressedSize: Int
        let localHeaderOffset: Int
    }

    /// Why the archive cannot be read. `truncated` when the file ends too early.
    struct Problem: Error {
        let message: String
        let truncated: Bool
        init(_ message: String, truncated: Bool = false) {
            self.message = message
            self.truncated = truncated
        }
    }

    let bytes: UnsafeRawBufferPointer
    /// Entries in central-directory order.
    let entries: [Entry]
    let index: [String: Int]

    init(bytes: UnsafeRawBufferPointer) throws {
        self.bytes = bytes
        let size = bytes.count
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
        func fits(_ at: Int, _ count: Int) -> Bool { at >= 0 && count >= 0 && at <= size && count <= size - at }

        // End of central directory: 22 bytes plus a comment of up to 65535 bytes, at the end.
        guard size >= 22 else {
            throw Problem("truncated: \(size) bytes cannot hold a zip archive's end-of-central-directory record", truncated: true)
        }
        var eocd = -1
        var at = size - 22
        let lowest = max(0, size - 22 - 65_535)
        while at >= lowest {
            if bytes[at] == 0x50 && bytes[at + 1] == 0x4B && bytes[at + 2] == 0x05 && bytes[at + 3] == 0x06
                && at + 22 + u16(at + 20) <= size {
                eocd = at
                break
            }
            at -= 1
        }
        guard eocd >= 0 else {
            throw Problem("truncated or damaged zip archive: no end-of-central-directory record before the file ends at byte \(size) (a complete torch.save archive ends with one)", truncated: true)
        }
        var entryCount = u16(eocd + 10)
        var directorySize = u32(eocd + 12)
        var directoryOffset = u32(eocd + 16)
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // Zip64: a locator just before the record points at the Zip64 end record.
            let locator = eocd - 20
            guard locator >= 0, u32(locator) == 0x0706_4B50 else {
                throw Problem("damaged zip archive: the end record asks for Zip64 but there is no Zip64 locator before byte \(eocd)")
            }
            let record64 = u64(locator + 8)
            guard record64 <= UInt64(size), fits(Int(record64), 56), u32(Int(record64)) == 0x0606_4B50 else {
                throw Problem("damaged zip archive: no Zip64 end-of-central-directory record at byte \(record64)", truncated: record64 >= UInt64(size))
            }
            let r = Int(record64)
            let count64 = u64(r + 32), size64 = u64(r + 40), offset64 = u64(r + 48)
            guard count64 <= UInt64(size), size64 <= UInt64(size), offset64 <= UInt64(size) else {
                throw Problem("damaged zip archive: Zip64 directory of \(count64) entries, \(size64) bytes at byte \(offset64) does not fit in \(size) bytes", truncated: true)
            }
            entryCount = Int(count64)
            directorySize = Int(size64)
            directoryOffset = Int(offset64)
        }
        guard fits(directoryOffset, directorySize) else {
            throw Problem("truncated or damaged zip archive: the central directory (\(directorySize) bytes at byte \(directoryOffset)) runs past the end of the file at byte \(size)", truncated: true)
        }

        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var p = directoryOffset
        let directoryEnd = directoryOffset + directorySize
        for number in 0..<entryCount {
            guard fits(p, 46), p + 46 <= directoryEnd, u32(p) == 0x0201_4B50 else {
                throw Problem("damaged zip archive: central directory entry \(number) at byte \(p) is not a file header")
            }
            let flags = UInt16(u16(p + 8)), method = UInt16(u16(p + 10))
            var compressed = UInt64(u32(p + 20)), uncompressed = UInt64(u32(p + 24))
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            var localOffset = UInt64(u32(p + 42))
            let total = 46 + nameLength + extraLength + commentLength
            guard fits(p, total), p + total <= directoryEnd else {
                throw Problem("damaged zip archive: central directory entry \(number) at byte \(p) runs past the directory's end", truncated: true)
            }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(p + 46)..<(p + 46 + nameLength)]), as: UTF8.self)
            // Zip64 extended information (tag 1): the 64-bit values, in this order, of the
            // fields that hold 0xFFFFFFFF.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let tag = u16(e), length = u16(e + 2)
                guard e + 4 + length <= extraEnd else { break }
                if tag == 0x0001 {
                    var q = e + 4
                    let qEnd = q + length
                    if uncompressed == 0xFFFF_FFFF, q + 8 <= qEnd { uncompressed = u64(q); q += 8 }
                    if compressed == 0xFFFF_FFFF, q + 8 <= qEnd { compressed = u64(q); q += 8 }
                    if localOffset == 0xFFFF_FFFF, q + 8 <= qEnd { localOffset = u64(q); q += 8 }
                }
                e += 4 + length
            }
            guard compressed <= UInt64(size), uncompressed <= UInt64(Int.max), localOffset <= UInt64(size) else {
                throw Problem("damaged zip archive: entry '\(name)' claims \(compressed) bytes at byte \(localOffset), more than the \(size)-byte file holds", truncated: true)
            }
            if index[name] == nil { index[name] = entries.count }
            entries.append(Entry(name: name, method: method, flags: flags, compressedSize: Int(compressed),
                                 uncompressedSize: Int(uncompressed), localHeaderOffset: Int(localOffset)))
            p += total
        }
        self.entries = entries
        self.index = index
    }

    func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// Where an entry's bytes are in the file, read from its local header. Only STORED,
    /// unencrypted entries can be read in place.
    func dataRange(of entry: Entry) throws -> Range<Int> {
        let size = bytes.count
        guard entry.flags & 1 == 0 else { throw Problem("zip entry '\(entry.name)' is encrypted") }
        guard entry.method == 0 else {
            throw Problem("zip entry '\(entry.name)' is compressed (method \(entry.method)); torch.save stores entries uncompressed, so this archive was rewritten by another tool (re-save it with torch.save)")
        }
        let h = entry.localHeaderOffset
        guard h <= size - 30 else {
            throw Problem("truncated: the local header of zip entry '\(entry.name)' at byte \(h) lies past the end of the file at byte \(size)", truncated: true)
        }
        let signature = Int(bytes[h]) | Int(bytes[h + 1]) << 8 | Int(bytes[h + 2]) << 16 | Int(bytes[h + 3]) << 24
        guard signature == 0x0403_4B50 else {
            throw Problem("damaged zip archive: no local file header for entry '\(entry.name)' at byte \(h)")
        }
        let nameLength = Int(bytes[h + 26]) | Int(bytes[h + 27]) << 8
        let extraLength = Int(bytes[h + 28]) | Int(bytes[h + 29]) << 8
        let start = h + 30 + nameLength + extraLength
        guard start <= size, entry.compressedSize <= size - start else {
            throw Problem("truncated: zip entry '\(entry.name)' needs bytes \(start)..<\(start + entry.compressedSize), but the file ends at byte \(size)", truncated: true)
        }
        return start..<(start + entry.compressedSize)
    }
}
