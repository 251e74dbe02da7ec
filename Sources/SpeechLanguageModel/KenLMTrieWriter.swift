import Foundation

/// Writes an ARPA model as a KenLM binary of type TRIE (format version 5, no quantization, no
/// pointer compression, no vocabulary strings), byte for byte what `build_binary -v trie` writes
/// for the same file, so that `ScorerPackage.write` can take ARPA input. ARPA files whose
/// pruning removed the suffix of a kept n-gram (which KenLM fills with "blank" entries) are
/// refused; KenLM's own build_binary handles those.
public enum KenLMTrieWriter {
    public static func write(_ model: ARPAModel, to path: String) throws {
        guard model.order >= 2 else { throw LanguageModelError(path: model.path, problem: "a trie needs order 2 or more") }
        guard !model.hasBlanks else {
            throw LanguageModelError(path: model.path, problem: "some n-grams lack their suffix (a pruned ARPA); build the binary with KenLM's build_binary")
        }
        let order = model.order
        // Vocabulary: word ids by sorted MurmurHash64A; <unk> is 0.
        let hashed = model.words.enumerated().dropFirst().map { (MurmurHash64A.hash(Array($0.element.utf8)), WordIndex($0.offset)) }.sorted { $0.0 < $1.0 }
        var trieID = [WordIndex](repeating: 0, count: model.words.count)
        for (rank, (_, arpa)) in hashed.enumerated() { trieID[Int(arpa)] = WordIndex(rank + 1) }
        let unigramCount = model.words.count
        // Records of each order, sorted by (parent record, word id); parent = the suffix.
        var position: [[WordIndex]: Int] = [:]                   // n-gram (ARPA ids) -> record index in its level
        for w in 0..<unigramCount { position[[WordIndex(w)]] = Int(trieID[w]) }
        var levels: [[[WordIndex]]] = []
        for n in 2...order {
            let grams = model.ngramWords[n - 2].sorted {
                let a = (position[Array($0.dropFirst())]!, trieID[Int($0[0])]), b = (position[Array($1.dropFirst())]!, trieID[Int($1[0])])
                return a < b
            }
            for (i, g) in grams.enumerated() { position[g] = i }
            levels.append(grams)
        }
        let counts = [unigramCount] + levels.map(\.count)
        // `next` of each record: where its children start in the next level.
        func childStarts(parents: Int, children: [[WordIndex]]) -> [UInt64] {
            var starts = [UInt64](repeating: 0, count: parents + 1)
            for g in children { starts[position[Array(g.dropFirst())]! + 1] += 1 }
            for i in 1..<starts.count { starts[i] += starts[i - 1] }
            return starts
        }

        var out: [UInt8] = []
        func put<T>(_ v: T) { withUnsafeBytes(of: v) { out.append(contentsOf: $0) } }
        // Header.
        var magic = Array("mmap lm http://kheafield.com/code format version 5\n".utf8)
        magic += [UInt8](repeating: 0, count: 56 - magic.count)
        out += magic
        put(Float(0)); put(Float(1)); put(Float(-0.5)); put(UInt32(1)); put(UInt32.max); put(UInt32(0)); put(UInt64(1))
        out.append(UInt8(order)); out += [0, 0, 0]; put(Float(1.5)); put(Int32(2)); out.append(0); out += [0, 0, 0]; put(UInt32(1))
        for c in counts { put(UInt64(c)) }
        while out.count % 8 != 0 { out.append(0) }
        // Sorted vocabulary.
        put(UInt64(hashed.count))
        for (h, _) in hashed { put(h) }
        put(UInt64(0))
        // Unigrams, by trie id, plus two records.
        var byTrieID = [Int](repeating: 0, count: unigramCount)
        for w in 0..<unigramCount { byTrieID[Int(trieID[w])] = w }
        let uniNext = childStarts(parents: unigramCount, children: levels[0])
        for t in 0..<unigramCount {
            let e = model.entry([WordIndex(byTrieID[t])])
            put(e.prob); put(e.backoff); put(uniNext[t])
        }
        put(Float(0)); put(Float(0)); put(uniNext[unigramCount])
        put(Float(0)); put(Float(0)); put(UInt64(0))
        // Middle orders and the longest.
        let wordBits = requiredBits(UInt64(unigramCount))
        for (k, grams) in levels.enumerated() {
            let n = k + 2, longest = n == order
            let nextBits = longest ? 0 : requiredBits(UInt64(counts[n]))
            let total = wordBits + 31 + (longest ? 0 : 32) + nextBits
            let starts = longest ? [] : childStarts(parents: grams.count, children: levels[k + 1])
            var bits = [UInt8](repeating: 0, count: ((1 + grams.count) * total + 7) / 8 + 8)
            func write(_ value: UInt64, at offset: Int, _ width: Int) {
                guard width > 0 else { return }
                for b in 0..<width where (value >> UInt64(b)) & 1 == 1 {
                    let o = offset + b
                    bits[o >> 3] |= UInt8(1) << UInt8(o & 7)
                }
            }
            for i in 0...grams.count {
                let base = i * total
                if i < grams.count {
                    let e = model.entry(grams[i])
                    write(UInt64(trieID[Int(grams[i][0])]), at: base, wordBits)
                    write(UInt64(e.prob.bitPattern & 0x7FFF_FFFF), at: base + wordBits, 31)
                    if !longest { write(UInt64(e.backoff.bitPattern), at: base + wordBits + 31, 32) }
                }
                if !longest { write(starts[i], at: base + total - nextBits, nextBits) }
            }
            out += bits
        }
        do { try Data(out).write(to: URL(fileURLWithPath: path)) } catch {
            throw LanguageModelError(path: path, problem: "cannot write (\(error.localizedDescription))")
        }
    }
}
