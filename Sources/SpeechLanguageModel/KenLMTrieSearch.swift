/// Bits needed to hold `value` (0 for 0), as KenLM's `RequiredBits`.
@inline(__always)
func requiredBits(_ value: UInt64) -> Int { value == 0 ? 0 : 64 - value.leadingZeroBitCount }

/// A bit field read as KenLM packs them: the little-endian uint64 at byte `offset >> 3`,
/// shifted right by `offset & 7`, masked to `bits` (at most 57).
@inline(__always)
func readBits(_ base: UnsafeRawPointer, _ offset: UInt64, _ bits: Int) -> UInt64 {
    let word = base.loadUnaligned(fromByteOffset: Int(offset >> 3), as: UInt64.self)
    return (word >> (offset & 7)) & (bits >= 64 ? ~0 : (UInt64(1) << UInt64(bits)) - 1)
}

/// KenLM's trie search (`search_trie`): unigram array, then for each middle order a bit-packed
/// array of `word | payload | next` records sorted by word within each parent's range, then
/// the longest order's `word | prob`. Optionally quantized (`-q/-b`) and with Bhiksha-compressed
/// `next` pointers (`-a`). See ../shared/docs/decoder-lm-formats.md §4.3.
struct KenLMTrieSearch: KenLMSearch, @unchecked Sendable {
    struct Level {
        var records: UnsafeRawPointer
        var entries: Int
        var wordBits: Int
        var probBits: Int       // 31 unquantized (sign dropped) or q
        var backoffBits: Int    // 32 unquantized, b quantized, 0 for the longest order
        var nextBits: Int       // inline part of next; 0 for the longest order
        var totalBits: Int
        var probCenters: UnsafePointer<Float>?
        var backoffCenters: UnsafePointer<Float>?
        /// Bhiksha: the high bits of `next`, as record indices where each value starts.
        var offsets: UnsafePointer<UInt64>?
        var offsetCount: Int
    }

    let unigrams: UnsafeRawPointer   // (count + 2) × {float prob; float backoff; uint64 next}
    let unigramCount: Int
    let middles: [Level]             // orders 2 … N−1
    let longestLevel: Level
    let byteSize: Int
    let quantized: Bool

    init(base: UnsafeRawPointer, offset start: Int, counts: [Int], quantized: Bool, bhiksha: Bool, fileSize: Int,
         fail: (String) -> LanguageModelError) throws {
        let order = counts.count
        guard order >= 2 else { throw fail("a trie model needs order 2 or more") }
        self.quantized = quantized
        var offset = start
        func need(_ bytes: Int, _ what: String) throws {
            guard bytes >= 0, offset + bytes <= fileSize else { throw fail("truncated in \(what)") }
        }
        // 1. Quantization tables.
        var probBits = 31, backoffBits = 32
        var centers: [(UnsafePointer<Float>, UnsafePointer<Float>?)] = []
        if quantized {
            try need(8, "the quantization header")
            let version = Int(base.load(fromByteOffset: offset, as: UInt8.self))
            guard version == 2 else { throw fail("quantization version \(version); KenLM writes 2") }
            probBits = Int(base.load(fromByteOffset: offset + 1, as: UInt8.self))
            backoffBits = Int(base.load(fromByteOffset: offset + 2, as: UInt8.self))
            guard (1...25).contains(probBits), (1...25).contains(backoffBits) else { throw fail("quantization with \(probBits)/\(backoffBits) bits") }
            var p = offset + 8
            let probTable = 4 << probBits, backoffTable = 4 << backoffBits
            try need(8 + (order - 2) * (probTable + backoffTable) + probTable, "the quantization tables")
            for _ in 2..<order {
                centers.append(((base + p).assumingMemoryBound(to: Float.self), (base + p + probTable).assumingMemoryBound(to: Float.self)))
                p += probTable + backoffTable
            }
            centers.append(((base + p).assumingMemoryBound(to: Float.self), nil))
            offset = p + probTable
        }
        // 2. Unigrams.
        unigramCount = counts[0]
        try need(16 * (counts[0] + 2), "the unigrams")
        unigrams = base + offset
        offset += 16 * (counts[0] + 2)
        // 3. Middle orders, each [Bhiksha block][records].
        let wordBits = requiredBits(UInt64(counts[0]))
        var levels: [Level] = []
        var pointerBits = 0
        for n in 2..<order {
            let entries = counts[n - 1], maxNext = UInt64(counts[n])
            let required = requiredBits(maxNext)
            var inline = required
            var offsetsPointer: UnsafePointer<UInt64>? = nil
            var offsetCount = 0
            if bhiksha {
                try need(2, "a Bhiksha header")
                if n == 2 { pointerBits = Int(base.load(fromByteOffset: offset + 1, as: UInt8.self)) }
                var bestChop = 0, bestCost = Int64.max
                for chop in 0...min(required, pointerBits) {
                    let cost = Int64(maxNext >> UInt64(required - chop)) * 64 - Int64(entries + 1) * Int64(chop)
                    if cost < bestCost { bestCost = cost; bestChop = chop }
                }
                inline = required - bestChop
                offsetCount = Int(maxNext >> UInt64(inline)) + 1
                let arrayStart = ((offset + 7) & ~7) + 8
                let blockSize = 8 * (1 + offsetCount) + 7
                try need(blockSize, "a Bhiksha block")
                offsetsPointer = (base + arrayStart).assumingMemoryBound(to: UInt64.self)
                offset += blockSize
            }
            let payload = quantized ? probBits + backoffBits : 63
            let total = wordBits + payload + inline
            let bytes = ((1 + entries) * total + 7) / 8 + 8
            try need(bytes, "order \(n)")
            levels.append(Level(records: base + offset, entries: entries, wordBits: wordBits,
                                probBits: quantized ? probBits : 31, backoffBits: quantized ? backoffBits : 32, nextBits: inline,
                                totalBits: total, probCenters: quantized ? centers[n - 2].0 : nil,
                                backoffCenters: quantized ? centers[n - 2].1 : nil, offsets: offsetsPointer, offsetCount: offsetCount))
            offset += bytes
        }
        middles = levels
        // 4. Longest order.
        let entries = counts[order - 1]
        let total = wordBits + (quantized ? probBits : 31)
        let bytes = ((1 + entries) * total + 7) / 8 + 8
        try need(bytes, "order \(order)")
        longestLevel = Level(records: base + offset, entries: entries, wordBits: wordBits, probBits: quantized ? probBits : 31,
                             backoffBits: 0, nextBits: 0, totalBits: total, probCenters: quantized ? centers.last!.0 : nil,
                             backoffCenters: nil, offsets: nil, offsetCount: 0)
        offset += bytes
        byteSize = offset - start
        try validatePointers(counts: counts, fail: fail)
    }

    /// Every `next` pointer must stay inside the next order and never decrease, so that a
    /// damaged file fails here instead of sending a lookup outside the mapping.
    private func validatePointers(counts: [Int], fail: (String) -> LanguageModelError) throws {
        var previous: UInt64 = 0
        for w in 0...unigramCount {
            let n = unigramNext(w)
            guard n >= previous, n <= UInt64(counts[1]) else { throw fail("damaged unigram table (pointer \(n) at word \(w))") }
            previous = n
        }
        for (k, level) in middles.enumerated() {
            if let offsets = level.offsets {
                guard level.offsetCount >= 1, offsets[0] == 0 else { throw fail("damaged pointer compression in order \(k + 2)") }
                for i in 1..<max(1, level.offsetCount) where offsets[i] < offsets[i - 1] { throw fail("damaged pointer compression in order \(k + 2)") }
            }
            previous = 0
            for i in 0...level.entries {
                let n = next(level, UInt64(i))
                guard n >= previous, n <= UInt64(counts[k + 2]) else { throw fail("damaged order \(k + 2) (pointer \(n) at record \(i))") }
                previous = n
            }
        }
    }

    // MARK: - Lookups

    func unigramNext(_ w: Int) -> UInt64 { unigrams.loadUnaligned(fromByteOffset: 16 * w + 8, as: UInt64.self) }

    func unigram(_ word: WordIndex) -> (prob: Float, backoff: Float, node: KenLMNode, independentLeft: Bool) {
        let w = Int(min(Int(word), unigramCount - 1))
        let prob = unigrams.loadUnaligned(fromByteOffset: 16 * w, as: Float.self)
        let backoff = unigrams.loadUnaligned(fromByteOffset: 16 * w + 4, as: Float.self)
        let node = KenLMNode(begin: unigramNext(w), end: unigramNext(w + 1))
        return (prob, backoff, node, node.begin == node.end)
    }

    /// Record index of `word` within `[node.begin, node.end)` of `level`, if present.
    func find(_ level: Level, _ node: KenLMNode, _ word: WordIndex) -> UInt64? {
        var lo = node.begin, hi = node.end
        let key = UInt64(word)
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            let w = readBits(level.records, mid * UInt64(level.totalBits), level.wordBits)
            if w < key { lo = mid + 1 } else if w > key { hi = mid } else { return mid }
        }
        return nil
    }

    func prob(_ level: Level, _ index: UInt64) -> Float {
        let at = index * UInt64(level.totalBits) + UInt64(level.wordBits)
        if let centers = level.probCenters {
            // Quantized: [backoff (b bits)][prob (q bits)] in middles; [prob] in the longest order.
            return centers[Int(readBits(level.records, at + UInt64(level.backoffBits), level.probBits))]
        }
        return Float(bitPattern: UInt32(readBits(level.records, at, 31)) | 0x8000_0000)
    }

    func backoff(_ level: Level, _ index: UInt64) -> Float {
        let at = index * UInt64(level.totalBits) + UInt64(level.wordBits)
        if let centers = level.backoffCenters { return centers[Int(readBits(level.records, at, level.backoffBits))] }
        return Float(bitPattern: UInt32(readBits(level.records, at + 31, 32)))
    }

    func next(_ level: Level, _ index: UInt64) -> UInt64 {
        let at = index * UInt64(level.totalBits) + UInt64(level.totalBits - level.nextBits)
        let low = readBits(level.records, at, level.nextBits)
        guard let offsets = level.offsets else { return low }
        // Bhiksha: the high part is the last k with offsets[k] <= index.
        var lo = 0, hi = level.offsetCount
        while lo < hi {
            let mid = (lo + hi) / 2
            if offsets[mid] <= index { lo = mid + 1 } else { hi = mid }
        }
        return (UInt64(lo - 1) << UInt64(level.nextBits)) | low
    }

    func middle(order n: Int, node: KenLMNode, word: WordIndex) -> (prob: Float, backoff: Float, node: KenLMNode, independentLeft: Bool)? {
        let level = middles[n - 2]
        guard let i = find(level, node, word) else { return nil }
        let child = KenLMNode(begin: next(level, i), end: next(level, i + 1))
        return (prob(level, i), backoff(level, i), child, child.begin == child.end)
    }

    func longest(node: KenLMNode, word: WordIndex) -> Float? {
        guard let i = find(longestLevel, node, word) else { return nil }
        return prob(longestLevel, i)
    }
}

/// KenLM's probing search (`search_hashed`): unigram array, then a linear-probing hash table
/// per order keyed by the n-gram's combined word hash. A stored probability keeps its sign bit
/// when the n-gram never extends to the left, and has it cleared when a longer n-gram ends
/// with it (so the lookup goes on); reading puts the sign back.
struct KenLMProbingSearch: KenLMSearch, @unchecked Sendable {
    struct Table { var entries: UnsafeRawPointer; var buckets: Int; var entrySize: Int }
    let unigrams: UnsafeRawPointer   // (count + 1) × {float prob; float backoff}
    let unigramCount: Int
    let middles: [Table]
    let longestTable: Table
    let byteSize: Int

    static func buckets(_ count: Int) -> Int { max(count + 1, Int(Float(1.5) * Float(count))) }

    init(base: UnsafeRawPointer, offset start: Int, counts: [Int], fileSize: Int, fail: (String) -> LanguageModelError) throws {
        guard counts.count >= 2 else { throw fail("a probing model needs order 2 or more") }
        var offset = start
        unigramCount = counts[0]
        guard offset + 8 * (counts[0] + 1) <= fileSize else { throw fail("truncated in the unigrams") }
        unigrams = base + offset
        offset += 8 * (counts[0] + 1)
        var tables: [Table] = []
        for n in 2..<counts.count {
            let b = Self.buckets(counts[n - 1])
            guard offset + 16 * b <= fileSize else { throw fail("truncated in order \(n)") }
            tables.append(Table(entries: base + offset, buckets: b, entrySize: 16))
            offset += 16 * b
        }
        middles = tables
        let b = Self.buckets(counts[counts.count - 1])
        guard offset + 12 * b <= fileSize else { throw fail("truncated in order \(counts.count)") }
        longestTable = Table(entries: base + offset, buckets: b, entrySize: 12)
        offset += 12 * b
        byteSize = offset - start
    }

    static func combine(_ current: UInt64, _ next: WordIndex) -> UInt64 {
        (current &* 8_978_948_897_894_561_157) ^ ((1 &+ UInt64(next)) &* 17_894_857_484_156_487_943)
    }

    /// The stored prob bits of `key` in `table`, if present.
    func lookup(_ table: Table, _ key: UInt64) -> Int? {
        var b = Int(key % UInt64(table.buckets))
        for _ in 0..<table.buckets {
            let stored = table.entries.loadUnaligned(fromByteOffset: table.entrySize * b, as: UInt64.self)
            if stored == key { return table.entrySize * b }
            if stored == 0 { return nil }
            b = b + 1 == table.buckets ? 0 : b + 1
        }
        return nil
    }

    static func decode(_ stored: Float) -> (prob: Float, independentLeft: Bool) {
        (Float(bitPattern: stored.bitPattern | 0x8000_0000), stored.bitPattern & 0x8000_0000 != 0)
    }

    func unigram(_ word: WordIndex) -> (prob: Float, backoff: Float, node: KenLMNode, independentLeft: Bool) {
        let w = Int(min(Int(word), unigramCount - 1))
        let (prob, independent) = Self.decode(unigrams.loadUnaligned(fromByteOffset: 8 * w, as: Float.self))
        let backoff = unigrams.loadUnaligned(fromByteOffset: 8 * w + 4, as: Float.self)
        return (prob, backoff, KenLMNode(begin: UInt64(word), end: 0), independent)
    }

    func middle(order n: Int, node: KenLMNode, word: WordIndex) -> (prob: Float, backoff: Float, node: KenLMNode, independentLeft: Bool)? {
        let key = Self.combine(node.begin, word)
        let table = middles[n - 2]
        guard let at = lookup(table, key) else { return nil }
        let (prob, independent) = Self.decode(table.entries.loadUnaligned(fromByteOffset: at + 8, as: Float.self))
        let backoff = table.entries.loadUnaligned(fromByteOffset: at + 12, as: Float.self)
        return (prob, backoff, KenLMNode(begin: key, end: 0), independent)
    }

    func longest(node: KenLMNode, word: WordIndex) -> Float? {
        let key = Self.combine(node.begin, word)
        guard let at = lookup(longestTable, key) else { return nil }
        return Self.decode(longestTable.entries.loadUnaligned(fromByteOffset: at + 8, as: Float.self)).prob
    }
}
