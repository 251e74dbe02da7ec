#if canImport(Glibc)
import Glibc
#endif
import XCTest
import TestSupport
import SpeechNumerics

/// Every int8 product kernel this machine can run against the definition, Σ W·X summed in
/// Int64: the sums must be exact (TFLite's hybrid kernels accumulate exactly in int32), so
/// there is no tolerance. On a CPU without AVX2 or VNNI only the kernels it has are checked;
/// `testKernelsFoundOnThisCPU` prints which.
final class Int8ProductKernelTests: XCTestCase {
    /// `[rows][units]` by the definition.
    static func reference(_ w: [Int8], units: Int, weightStride: Int, offset: Int, depth: Int,
                          _ x: [Int8], rows: Int, inputStride: Int) -> [Int32] {
        var out = [Int32](repeating: 0, count: rows * units)
        for r in 0..<rows {
            for u in 0..<units {
                var s: Int64 = 0
                for k in 0..<depth { s += Int64(w[u * weightStride + offset + k]) * Int64(x[r * inputStride + k]) }
                out[r * units + u] = Int32(s)
            }
        }
        return out
    }

    func testKernelsFoundOnThisCPU() {
        let cpu = CPUFeatures.current
        print("CPU: \(cpu.brand.isEmpty ? "unknown" : cpu.brand) [\(cpu)]; int8 kernels: \(Int8ProductKernel.available)")
        XCTAssertEqual(Int8ProductKernel.available.first, .portable)
        #if arch(x86_64)
        XCTAssertEqual(Int8ProductKernel.available.contains(.avx2), cpu.avx2)
        XCTAssertEqual(Int8ProductKernel.available.contains(.avx512vnni), cpu.avx512vnni)
        #endif
        XCTAssertTrue(Int8ProductKernel.available.contains(Int8ProductKernel.selected))
    }

    /// Shapes around every block and tile edge (16- and 64-byte blocks, 1–6 rows per tile,
    /// unit counts that leave remainders), a column range that starts inside the row (the
    /// LSTM's x and h halves), and the extreme values −128 and 127 everywhere.
    func testEveryKernelIsExactOnEdgeShapes() {
        var random = SeededGenerator(seed: 12)
        let depths = [1, 15, 16, 17, 63, 64, 65, 127, 128, 494, 2048]
        let unitCounts = [1, 5, 13, 24, 25, 50]
        let rowCounts = [1, 2, 3, 4, 5, 6, 7, 16]
        for kernel in Int8ProductKernel.available {
            for depth in depths {
                for units in unitCounts {
                    for rows in rowCounts where depth * units * rows <= 400_000 {
                        let offset = random.below(40), weightStride = offset + depth + random.below(9)
                        let inputStride = depth + random.below(5)
                        let extremes = random.below(4) == 0
                        func value() -> Int8 { extremes ? (random.below(2) == 0 ? -128 : 127) : Int8(truncatingIfNeeded: random.next()) }
                        let w = (0..<(units * weightStride)).map { _ in value() }
                        let x = (0..<(rows * inputStride)).map { _ in value() }
                        let expected = Self.reference(w, units: units, weightStride: weightStride, offset: offset, depth: depth,
                                                      x, rows: rows, inputStride: inputStride)
                        var got = [Int32](repeating: -1, count: rows * units)
                        w.withUnsafeBufferPointer { w in x.withUnsafeBufferPointer { x in got.withUnsafeMutableBufferPointer { o in
                            Int8Products.multiply(weights: w.baseAddress! + offset, units: units, weightStride: weightStride,
                                                  depth: depth, columnSums: nil, inputs: x.baseAddress!, rows: rows,
                                                  inputStride: inputStride, into: o.baseAddress!, kernel: kernel)
                        }}}
                        if got != expected {
                            XCTFail("\(kernel): units \(units), rows \(rows), depth \(depth), offset \(offset): "
                                    + "first difference at \(got.indices.first { got[$0] != expected[$0] }!)")
                            return
                        }
                    }
                }
            }
        }
    }

    /// The last partial block is read with a byte mask: operands that end right before an
    /// unmapped page must not fault, and the bytes past the end must not count.
    func testTailReadsStopAtTheEndOfTheOperands() throws {
        #if os(Linux)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let memory = mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              memory != MAP_FAILED else { throw XCTSkip("mmap refused") }
        defer { munmap(memory, 2 * page) }
        XCTAssertEqual(mprotect(memory + page, page, PROT_NONE), 0)
        let units = 3, depth = 70
        let bytes = memory.assumingMemoryBound(to: Int8.self)
        // Weights end at the guard page; inputs just before them.
        let w = bytes + page - units * depth, x = w - depth
        var random = SeededGenerator(seed: 7)
        for i in 0..<(units * depth) { w[i] = Int8(truncatingIfNeeded: random.next()) }
        for i in 0..<depth { x[i] = Int8(truncatingIfNeeded: random.next()) }
        let expected = Self.reference(Array(UnsafeBufferPointer(start: w, count: units * depth)), units: units, weightStride: depth,
                                      offset: 0, depth: depth, Array(UnsafeBufferPointer(start: x, count: depth)), rows: 1,
                                      inputStride: depth)
        for kernel in Int8ProductKernel.available {
            var got = [Int32](repeating: 0, count: units)
            got.withUnsafeMutableBufferPointer {
                Int8Products.multiply(weights: w, units: units, weightStride: depth, depth: depth, columnSums: nil, inputs: x,
                                      rows: 1, inputStride: depth, into: $0.baseAddress!, kernel: kernel)
            }
            XCTAssertEqual(got, expected, "\(kernel)")
        }
        #else
        throw XCTSkip("guard pages are set up with Linux's mmap here")
        #endif
    }

    /// The hybrid fully-connected layer gives identical floats on every kernel (the products
    /// are exact, and the float steps after them are the same code).
    func testHybridFullyConnectedIsIdenticalOnEveryKernel() {
        var random = SeededGenerator(seed: 3)
        let units = 29, columns = 494, rows = 16
        let w = HybridInt8Matrix(rows: units, columns: columns,
                                 values: (0..<(units * columns)).map { _ in Int8(random.below(255) - 127) }, scale: 0.0123)
        let input = (0..<(rows * columns)).map { _ in Float(random.below(2001)) / 100 }
        let bias = (0..<units).map { Float($0) / 7 }
        var outputs: [[Float]] = []
        for kernel in Int8ProductKernel.available {
            var out = [Float](repeating: 0, count: rows * units)
            var scratch = HybridFullyConnected.Scratch(maxRows: rows, columns: columns)
            input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in
                HybridFullyConnected.apply(w, bias: bias, input: i.baseAddress!, rows: rows, output: o.baseAddress!,
                                           scratch: &scratch, kernel: kernel)
            }}
            outputs.append(out)
        }
        for (kernel, out) in zip(Int8ProductKernel.available, outputs) {
            XCTAssertEqual(out, outputs[0], "\(kernel) differs from portable")
        }
        XCTAssertGreaterThan(outputs[0].map(abs).max()!, 1, "a non-trivial product")
    }
}

/// The packed copy the LSTM's recurrent product reads on VNNI CPUs gives the same sums as
/// the definition, with unit counts and depths that leave partial tiles and blocks.
final class PackedInt8MatrixTests: XCTestCase {
    func testPackedProductIsExact() throws {
        guard Int8ProductKernel.available.contains(.avx512vnni) else { throw XCTSkip("no AVX-512 VNNI on this CPU") }
        var random = SeededGenerator(seed: 99)
        for (units, depth) in [(1, 1), (24, 64), (25, 65), (47, 2048), (100, 130), (8192, 200)] {
            let offset = 3, stride = offset + depth + 11
            let w = (0..<(units * stride)).map { _ in Int8(truncatingIfNeeded: random.next()) }
            let x = (0..<depth).map { _ in Int8(truncatingIfNeeded: random.next()) }
            let expected = Int8ProductKernelTests.reference(w, units: units, weightStride: stride, offset: offset, depth: depth,
                                                            x, rows: 1, inputStride: depth)
            let packed = w.withUnsafeBufferPointer {
                PackedInt8Matrix(weights: $0.baseAddress! + offset, units: units, weightStride: stride, depth: depth)
            }
            var got = [Int32](repeating: 0, count: units)
            x.withUnsafeBufferPointer { x in got.withUnsafeMutableBufferPointer { packed.multiply(x.baseAddress!, into: $0.baseAddress!) } }
            XCTAssertEqual(got, expected, "units \(units), depth \(depth)")
        }
    }
}
