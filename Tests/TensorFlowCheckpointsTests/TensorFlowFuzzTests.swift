import Foundation
import MappedFiles
import SpeechCheckpoints
import TestSupport
import XCTest
import TensorFlowCheckpoints

/// Seeded random mutations of the real TensorFlow fixtures: every damaged copy must be read
/// or refused with a ModelFileError naming the file, never crash the process.
final class TensorFlowFuzzTests: XCTestCase {
    /// 300 by default (about a second in a debug build); TF_FUZZ_MUTATIONS=N for a longer run.
    static let mutationsPerFile = ProcessInfo.processInfo.environment["TF_FUZZ_MUTATIONS"].flatMap(Int.init) ?? 300
    /// TF_FUZZ_SEED=N varies the sequence of a longer run.
    static let seed = ProcessInfo.processInfo.environment["TF_FUZZ_SEED"].flatMap(UInt64.init) ?? 0

    typealias Generator = SeededGenerator

    /// One random change: flipped, set or overwritten bytes, an insertion, a deletion or a
    /// truncation. `hot` holds the byte ranges worth aiming at (structure rather than weights);
    /// three changes in four land there.
    static func mutate(_ original: [UInt8], hot: [Range<Int>], _ g: inout Generator) -> [UInt8] {
        var bytes = original
        func position() -> Int {
            if !hot.isEmpty && g.below(4) != 0 {
                let range = hot[g.below(hot.count)]
                return range.lowerBound + g.below(range.count)
            }
            return g.below(bytes.count)
        }
        switch g.below(7) {
        case 0: bytes[position()] ^= UInt8(1 + g.below(255))
        case 1: bytes[position()] = [0x00, 0x01, 0x7F, 0x80, 0xFF][g.below(5)]
        case 2:
            let p = position()
            for i in p..<min(bytes.count, p + 2 + g.below(7)) { bytes[i] = UInt8(truncatingIfNeeded: g.next()) }
        case 3: bytes = Array(bytes[..<position()])
        case 4: bytes.insert(contentsOf: (0..<(1 + g.below(8))).map { _ in UInt8(truncatingIfNeeded: g.next()) }, at: position())
        case 5:
            let p = position()
            bytes.removeSubrange(p..<min(bytes.count, p + 1 + g.below(16)))
        default:
            bytes[position()] ^= UInt8(1 + g.below(255))
            bytes[position()] ^= UInt8(1 + g.below(255))
        }
        return bytes
    }

    private func requireFixtures() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: TensorFlowFixtureTests.directory), "no fixtures")
    }

    private static func bytes(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: TensorFlowFixtureTests.path(name))))
    }

    func testMutatedGraphsAreReadOrRefused() throws {
        try requireFixtures()
        var g = Generator(seed: 0x7F4A_2024_0964 ^ Self.seed)
        for name in ["ds-h64.pb", "ds-h64.pbmm", "ds-h64.old.pbmm"] {
            let original = try Self.bytes(name)
            let graph = try TensorFlowGraph(path: TensorFlowFixtureTests.path(name))
            // Aim at everything but the large weight blocks.
            let weights = try graph.constants().map(\.byteRange).filter { $0.count > 4096 }.sorted { $0.lowerBound < $1.lowerBound }
            var hot: [Range<Int>] = [], start = 0
            for w in weights {
                if w.lowerBound > start { hot.append(start..<w.lowerBound) }
                start = max(start, w.upperBound)
            }
            hot.append(start..<original.count)
            var read = 0, refused = 0
            for i in 0..<Self.mutationsPerFile {
                let damaged = Self.mutate(original, hot: hot, &g)
                guard !damaged.isEmpty else { continue }
                do {
                    let copy = try TensorFlowGraph(bytes: damaged, path: name)
                    _ = try copy.constants()
                    read += 1
                } catch let error as ModelFileError {
                    XCTAssertEqual(error.path, name, "mutation \(i): \(error)")
                    refused += 1
                } catch {
                    XCTFail("mutation \(i) of \(name): \(error) is not a ModelFileError")
                }
            }
            XCTAssertGreaterThan(refused, Self.mutationsPerFile / 4, name)
            print("\(name): \(Self.mutationsPerFile) mutations, \(read) read, \(refused) refused")
        }
    }

    func testMutatedCheckpointsAreReadOrRefused() throws {
        try requireFixtures()
        var g = Generator(seed: 0x5EED_0000_2024 ^ Self.seed)
        for prefix in ["ds-h64.ckpt", "ds-h64.snappy.ckpt"] {
            // The damaged index is held in memory under the fixture's name, so it finds the
            // real data shard.
            let indexPath = TensorFlowFixtureTests.path(prefix + ".index")
            let dataPath = TensorFlowFixtureTests.path(prefix + ".data-00000-of-00001")
            let original = try Self.bytes(prefix + ".index")
            var read = 0, refused = 0
            for i in 0..<Self.mutationsPerFile {
                let damaged = Self.mutate(original, hot: [], &g)
                do {
                    let bundle = try TensorBundle(index: MappedFile(copying: damaged, path: indexPath))
                    for name in bundle.names { _ = try bundle.tensor(named: name) }
                    read += 1
                } catch let error as ModelFileError {
                    XCTAssertTrue(error.path == indexPath || error.path == dataPath, "mutation \(i): \(error)")
                    refused += 1
                } catch {
                    XCTFail("mutation \(i) of \(prefix).index: \(error) is not a ModelFileError")
                }
            }
            // Almost every change breaks a block checksum or the footer.
            XCTAssertGreaterThan(refused, Self.mutationsPerFile * 9 / 10, prefix)
            print("\(prefix).index: \(Self.mutationsPerFile) mutations, \(read) read, \(refused) refused")
        }
    }

    /// A changed byte anywhere in a tensor's data is caught by its CRC-32C.
    func testMutatedCheckpointDataFailsItsChecksum() throws {
        try requireFixtures()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prefix = dir.appendingPathComponent("ds-h64.ckpt").path
        try FileManager.default.createSymbolicLink(atPath: prefix + ".index", withDestinationPath: TensorFlowFixtureTests.path("ds-h64.ckpt.index"))
        let original = try Self.bytes("ds-h64.ckpt.data-00000-of-00001")
        let reference = try TensorBundle(indexPath: TensorFlowFixtureTests.path("ds-h64.ckpt.index"))
        var g = Generator(seed: 0xDA7A)
        for _ in 0..<20 {
            let name = reference.names[g.below(reference.names.count)]
            let entry = try XCTUnwrap(reference.entry(named: name))
            var damaged = original
            damaged[entry.offset + g.below(entry.size)] ^= UInt8(1 << g.below(8))
            try Data(damaged).write(to: URL(fileURLWithPath: prefix + ".data-00000-of-00001"))
            let bundle = try TensorBundle(indexPath: prefix)
            XCTAssertThrowsError(try bundle.tensor(named: name), name) { error in
                XCTAssertEqual((error as? ModelFileError)?.path, prefix + ".data-00000-of-00001")
                XCTAssertTrue("\(error)".contains("CRC mismatch in tensor '\(name)'"), "\(error)")
            }
        }
    }
}
