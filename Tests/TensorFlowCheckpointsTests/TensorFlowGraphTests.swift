import SpeechCheckpoints
import XCTest
import TensorFlowCheckpoints

final class TensorFlowGraphTests: XCTestCase {
    typealias G = GraphBuilder

    static let weights: [Float] = [0.5, -1, 2.25, 3, -4.5, 1e-3]

    /// A GraphDef exercising every way a Const stores its values.
    static func sampleGraph() -> [UInt8] {
        var w = ProtoWriter()
        G.node(&w, name: "input_node", op: "Placeholder") { n in
            G.attr(&n, "dtype") { $0.int(6, 1) }
            G.attr(&n, "shape") { G.shape(&$0, field: 7, [-1, 16]) }
        }
        G.const(&w, name: "layer_1/weights", dtype: 1, shape: [2, 3]) { $0.data(4, G.floatBytes(weights)) }
        G.const(&w, name: "layer_1/bias", dtype: 1, shape: [4]) { $0.packedFloats(5, [1.5, 2.5]) }
        G.const(&w, name: "zeros", dtype: 1, shape: [2, 2]) { _ in }
        G.const(&w, name: "unpacked", dtype: 1, shape: [3]) { t in t.float(5, 1); t.float(5, 2) }
        G.const(&w, name: "metadata_version", dtype: 3, shape: []) { $0.packedVarints(7, [1]) }
        G.const(&w, name: "metadata_sample_rate", dtype: 3, shape: []) { $0.int(7, 16000) }
        G.const(&w, name: "negative", dtype: 3, shape: [2]) { $0.packedVarints(7, [-3]) }
        G.const(&w, name: "int8s", dtype: 6, shape: [3]) { $0.packedVarints(7, [-1, 127, -128]) }
        G.const(&w, name: "i64", dtype: 9, shape: [2]) { $0.packedVarints(10, [1 << 40, -5]) }
        G.const(&w, name: "flags", dtype: 10, shape: [3]) { $0.packedVarints(11, [1, 0]) }
        G.const(&w, name: "half", dtype: 19, shape: [2]) { $0.packedVarints(13, [0x3C00]) }
        G.const(&w, name: "double", dtype: 2, shape: [2]) { t in
            var inner = ProtoWriter()
            inner.append64(Double(0.25).bitPattern); inner.append64(Double(-8).bitPattern)
            t.data(6, inner.bytes)
        }
        G.const(&w, name: "metadata_alphabet", dtype: 7, shape: []) { $0.string(8, " abc'\n") }
        G.const(&w, name: "labels", dtype: 7, shape: [3]) { t in t.string(8, "x"); t.string(8, "yz") }
        G.node(&w, name: "MatMul", op: "MatMul", inputs: ["input_node", "layer_1/weights:0", "^layer_1/bias"]) { n in
            G.attr(&n, "T") { $0.int(6, 1) }
            G.attr(&n, "transpose_a") { $0.int(5, 0) }
            G.attr(&n, "transpose_b") { $0.int(5, 1) }
            G.attr(&n, "alpha") { $0.float(4, 0.25) }
            G.attr(&n, "padding") { $0.string(2, "SAME") }
            G.attr(&n, "strides") { v in v.message(1) { $0.packedVarints(3, [1, 2, 2, 1]) } }
            G.attr(&n, "body") { v in
                v.message(10) { f in
                    f.string(1, "cond_fn")
                    f.message(2) { entry in entry.string(1, "N"); entry.message(2) { $0.int(3, 2) } }  // NameAttrList.attr = 2
                }
            }
            n.string(4, "/device:CPU:0")
        }
        G.versions(&w, producer: 38)
        return w.bytes
    }

    func testNodesAndAttributes() throws {
        let graph = try TensorFlowGraph(bytes: Self.sampleGraph(), path: "sample.pb")
        XCTAssertEqual(graph.format, .frozenGraph)
        XCTAssertFalse(graph.isMemmapped)
        XCTAssertEqual(graph.producerVersion, 38)
        XCTAssertEqual(graph.nodes.count, 16)
        XCTAssertEqual(graph.constantNodes.count, 14)
        let matmul = try XCTUnwrap(graph.node(named: "MatMul"))
        XCTAssertEqual(matmul.op, "MatMul")
        XCTAssertEqual(matmul.inputs, ["input_node", "layer_1/weights:0", "^layer_1/bias"])
        XCTAssertEqual(matmul.device, "/device:CPU:0")
        XCTAssertEqual(matmul.attrs["T"]?.dataType, .float)
        XCTAssertEqual(matmul.attrs["transpose_a"]?.boolValue, false)
        XCTAssertEqual(matmul.attrs["transpose_b"]?.boolValue, true)
        XCTAssertEqual(matmul.attrs["alpha"]?.floatValue, 0.25)
        XCTAssertEqual(matmul.attrs["padding"]?.string, "SAME")
        guard case .list(let strides)? = matmul.attrs["strides"] else { return XCTFail("strides is not a list") }
        XCTAssertEqual(strides.ints, [1, 2, 2, 1])
        guard case .function(let body)? = matmul.attrs["body"] else { return XCTFail("body is not a func") }
        XCTAssertEqual(body.name, "cond_fn")
        XCTAssertEqual(body.attrs["N"]?.intValue, 2)
        let input = try XCTUnwrap(graph.node(named: "input_node"))
        XCTAssertEqual(input.attrs["shape"]?.shapeValue, TensorShape(dimensions: [-1, 16]))
        XCTAssertNil(input.attrs["shape"]?.shapeValue?.fullyDefined)
        XCTAssertEqual(TensorFlowDataType(rawValue: 101).description, "DT_FLOAT_REF")
        XCTAssertEqual(TensorFlowDataType(rawValue: 101).checkpointDataType, .float32)
    }

    func testTensorContentIsASliceOfTheFile() throws {
        let graph = try TensorFlowGraph(bytes: Self.sampleGraph(), path: "sample.pb")
        let w = try XCTUnwrap(try graph.constant(named: "layer_1/weights"))
        XCTAssertEqual(w.dataType, .float32)
        XCTAssertEqual(w.shape, [2, 3])
        XCTAssertTrue(w.storage === graph.file, "tensor_content must not be copied")
        XCTAssertEqual(Array(graph.file.bytes[w.byteRange]), G.floatBytes(Self.weights))
        XCTAssertEqual(try w.floats(), Self.weights)
    }

    func testTypedValueListsRepeatTheirLastValue() throws {
        let graph = try TensorFlowGraph(bytes: Self.sampleGraph(), path: "sample.pb")
        func tensor(_ name: String) throws -> CheckpointTensor { try XCTUnwrap(try graph.constant(named: name)) }
        XCTAssertEqual(try tensor("layer_1/bias").floats(), [1.5, 2.5, 2.5, 2.5])
        XCTAssertEqual(try tensor("zeros").floats(), [0, 0, 0, 0])
        XCTAssertEqual(try tensor("unpacked").floats(), [1, 2, 2])
        XCTAssertEqual(try tensor("metadata_version").integers(), [1])
        XCTAssertEqual(try tensor("metadata_version").shape, [])
        XCTAssertEqual(try tensor("metadata_sample_rate").integers(), [16000])
        XCTAssertEqual(try tensor("negative").integers(), [-3, -3])
        XCTAssertEqual(try tensor("int8s").integers(), [-1, 127, -128])
        XCTAssertEqual(try tensor("i64").integers(), [1 << 40, -5])
        XCTAssertEqual(try tensor("flags").integers(), [1, 0, 0])
        XCTAssertEqual(try tensor("flags").dataType, .bool)
        XCTAssertEqual(try tensor("half").floats(), [1, 1])
        XCTAssertEqual(try tensor("double").floats(), [0.25, -8])
        let alphabet = try tensor("metadata_alphabet")
        XCTAssertEqual(alphabet.dataType, .string)
        XCTAssertEqual(String(decoding: alphabet.bytes, as: UTF8.self), " abc'\n")
        XCTAssertTrue(alphabet.storage === graph.file)
        XCTAssertEqual(try graph.stringConstant(named: "labels")?.map { String(decoding: $0, as: UTF8.self) }, ["x", "yz", "yz"])
        XCTAssertThrowsError(try graph.constant(named: "labels")) { error in
            XCTAssertTrue("\(error)".contains("holds 3 strings"), "\(error)")
        }
        // constants() reads them all and so stops at the string list.
        XCTAssertThrowsError(try graph.constants()) { XCTAssertTrue("\($0)".contains("'labels'"), "\($0)") }
    }

    func testConstantsOfOtherNodes() throws {
        let graph = try TensorFlowGraph(bytes: Self.sampleGraph(), path: "sample.pb")
        XCTAssertNil(try graph.constant(named: "no_such_node"))
        XCTAssertThrowsError(try graph.constant(named: "input_node")) { error in
            XCTAssertEqual((error as? ModelFileError)?.path, "sample.pb")
            XCTAssertTrue("\(error)".contains("is a Placeholder node, not a constant"), "\(error)")
        }
    }

    private func assertConstantError(_ build: (inout ProtoWriter) -> Void, _ name: String, _ text: String,
                                     file: StaticString = #filePath, line: UInt = #line) {
        var w = ProtoWriter()
        build(&w)
        do {
            let graph = try TensorFlowGraph(bytes: w.bytes, path: "bad.pb")
            _ = try graph.constant(named: name)
            XCTFail("expected an error containing '\(text)'", file: file, line: line)
        } catch let error as ModelFileError {
            XCTAssertEqual(error.path, "bad.pb", file: file, line: line)
            XCTAssertTrue(error.problem.contains(text), "\(error)", file: file, line: line)
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }

    func testBadConstantsAreRefused() {
        assertConstantError({ G.const(&$0, name: "c", dtype: 8, shape: [2]) { _ in } }, "c",
                            "constant 'c' has dtype DT_COMPLEX64 (DataType 8), which is not supported")
        assertConstantError({ G.const(&$0, name: "q", dtype: 77, shape: [2]) { _ in } }, "q", "DataType 77")
        assertConstantError({ G.const(&$0, name: "many", dtype: 1, shape: [2]) { $0.packedFloats(5, [1, 2, 3]) } }, "many",
                            "holds more values than its shape's 2 elements")
        assertConstantError({ G.const(&$0, name: "short", dtype: 1, shape: [3]) { $0.data(4, G.floatBytes([1, 2])) } }, "short",
                            "has 8 bytes of tensor_content, but shape [3] of DT_FLOAT needs 12")
        assertConstantError({ G.const(&$0, name: "unknown", dtype: 1, shape: [-1, 2]) { _ in } }, "unknown", "not fully defined")
        assertConstantError({ G.const(&$0, name: "huge", dtype: 1, shape: [1 << 40, 1 << 40]) { _ in } }, "huge", "overflows")
        assertConstantError({ G.const(&$0, name: "expand", dtype: 1, shape: [1 << 20, 1 << 10]) { $0.float(5, 1) } }, "expand",
                            "would expand 1 stored values to 4294967296 bytes")
        assertConstantError({ G.const(&$0, name: "wire", dtype: 1, shape: [1]) { $0.int(5, 1) } }, "wire", "wire type 0")
        assertConstantError({ w in
            G.node(&w, name: "mismatch", op: "Const") { n in
                G.attr(&n, "dtype") { $0.int(6, 3) }
                G.attr(&n, "value") { v in v.message(8) { $0.int(1, 1) } }
            }
        }, "mismatch", "declares dtype DT_INT32 but its value is DT_FLOAT")
        assertConstantError({ G.node(&$0, name: "novalue", op: "Const") }, "novalue", "has no tensor 'value' attribute")
        assertConstantError({ G.node(&$0, name: "imm", op: "ImmutableConst") }, "imm", "not memory-mapped")
    }

    func testUnreadableFilesAreRefused() throws {
        func problem(_ bytes: [UInt8]) -> String {
            do { _ = try TensorFlowGraph(bytes: bytes, path: "x.pb"); return "read" } catch { return "\(error)" }
        }
        XCTAssertTrue(problem(Array("hello world, this is text".utf8)).contains("is neither a frozen TensorFlow GraphDef"))
        XCTAssertTrue(problem([0x0A, 0x02, 0x0A]).contains("truncated"))
        XCTAssertTrue(problem([0x0A, 0x00]).contains("node 0 has no name"))
        var twice = ProtoWriter()
        G.node(&twice, name: "a", op: "NoOp")
        G.node(&twice, name: "a", op: "NoOp")
        XCTAssertTrue(problem(twice.bytes).contains("two nodes are named 'a'"))
        // Every truncation of the sample graph is refused or read, never a crash.
        let sample = Self.sampleGraph()
        for length in stride(from: 1, to: sample.count, by: 7) {
            _ = problem(Array(sample[..<length]))
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("missing-\(UUID().uuidString).pb").path
        XCTAssertThrowsError(try TensorFlowGraph(path: path)) { error in
            XCTAssertEqual((error as? ModelFileError)?.path, path)
        }
    }

    // MARK: - Memory-mapped graphs

    /// A graph whose two large weights are ImmutableConst regions and whose bias stays a Const.
    static func memmappedGraph(alignment: Int, storeLengths: Bool) -> [UInt8] {
        let kernel = (0..<30).map { Float($0) * 0.5 - 3 }
        let table = (0..<5).map { Int32($0 * 1000 - 7) }
        var w = ProtoWriter()
        G.node(&w, name: "layer_1/weights", op: "ImmutableConst") { n in
            G.attr(&n, "dtype") { $0.int(6, 1) }
            G.attr(&n, "shape") { G.shape(&$0, field: 7, [5, 6]) }
            G.attr(&n, "memory_region_name") { $0.string(2, "memmapped_package://layer_1_weights") }
        }
        G.node(&w, name: "table", op: "ImmutableConst") { n in
            G.attr(&n, "dtype") { $0.int(6, 3) }
            G.attr(&n, "shape") { G.shape(&$0, field: 7, [5]) }
            G.attr(&n, "memory_region_name") { $0.string(2, "memmapped_package://table") }
        }
        G.const(&w, name: "layer_1/bias", dtype: 1, shape: [6]) { $0.packedFloats(5, [0.125]) }
        G.versions(&w, producer: 1087)
        var tableBytes = ProtoWriter()
        for v in table { tableBytes.append32(UInt32(bitPattern: v)) }
        return G.memmapped(regions: [("layer_1_weights", G.floatBytes(kernel)), ("table", tableBytes.bytes), ("extra", [1, 2, 3])],
                           graph: w.bytes, alignment: alignment, storeLengths: storeLengths)
    }

    func testMemmappedGraphs() throws {
        let kernel = (0..<30).map { Float($0) * 0.5 - 3 }
        for (alignment, stored) in [(64, true), (32, false)] {
            let dir = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("g.pbmm").path
            try Data(Self.memmappedGraph(alignment: alignment, storeLengths: stored)).write(to: URL(fileURLWithPath: path))
            let graph = try TensorFlowGraph(path: path)
            XCTAssertTrue(graph.isMemmapped)
            let directory = try XCTUnwrap(graph.directory)
            XCTAssertEqual(directory.hasStoredLengths, stored)
            XCTAssertEqual(directory.alignment, alignment)
            XCTAssertEqual(directory.regions.map(\.name), ["memmapped_package://layer_1_weights", "memmapped_package://table",
                                                          "memmapped_package://extra", "memmapped_package://."])
            XCTAssertEqual(directory.regions.map(\.offset).prefix(3), [0, 128, 128 + alignment])  // 120 bytes of weights, padded
            // Without stored lengths a region runs to the next one, padding included.
            XCTAssertEqual(directory.regions[0].length, stored ? 120 : 128)
            XCTAssertEqual(graph.producerVersion, 1087)
            XCTAssertEqual(graph.nodes.map(\.op), ["ImmutableConst", "ImmutableConst", "Const"])
            let w = try XCTUnwrap(try graph.constant(named: "layer_1/weights"))
            XCTAssertEqual(w.shape, [5, 6])
            XCTAssertEqual(try w.floats(), kernel)
            XCTAssertTrue(w.storage === graph.file)
            XCTAssertEqual(w.byteRange, 0..<120)
            XCTAssertEqual(try graph.constant(named: "table")?.integers(), [-7, 993, 1993, 2993, 3993])
            XCTAssertEqual(try graph.constant(named: "layer_1/bias")?.floats(), [Float](repeating: 0.125, count: 6))
            XCTAssertEqual(try graph.constants().map(\.name), ["layer_1/weights", "table", "layer_1/bias"])
        }
    }

    private func memmappedProblem(_ bytes: [UInt8]) -> String {
        do {
            let graph = try TensorFlowGraph(bytes: bytes, path: "m.pbmm")
            _ = try graph.constants()
            return "read"
        } catch let error as ModelFileError {
            XCTAssertEqual(error.path, "m.pbmm")
            return error.problem
        } catch {
            return "unexpected \(error)"
        }
    }

    func testDamagedMemmappedGraphs() throws {
        var graph = ProtoWriter()
        G.node(&graph, name: "w", op: "ImmutableConst") { n in
            G.attr(&n, "dtype") { $0.int(6, 1) }
            G.attr(&n, "shape") { G.shape(&$0, field: 7, [4]) }
            G.attr(&n, "memory_region_name") { $0.string(2, "memmapped_package://w") }
        }
        // A region shorter than the tensor.
        let short = G.memmapped(regions: [("w", G.floatBytes([1, 2, 3]))], graph: graph.bytes, alignment: 64, storeLengths: true)
        XCTAssertTrue(memmappedProblem(short).contains("tensor 'w' needs 16 bytes for shape [4] of DT_FLOAT but its region 'memmapped_package://w' holds 12"), memmappedProblem(short))
        // A region the directory does not list.
        let other = G.memmapped(regions: [("v", G.floatBytes([1, 2, 3, 4]))], graph: graph.bytes, alignment: 64, storeLengths: true)
        XCTAssertTrue(memmappedProblem(other).contains("which the directory does not list"))

        // Directory trouble: build the directory by hand.
        func file(_ elements: [(Int64, String, Int64)], body: [UInt8]) -> [UInt8] {
            var d = ProtoWriter()
            for (offset, name, length) in elements {
                d.message(1) { e in e.int(1, offset); e.string(2, name); if length != 0 { e.int(3, length) } }
            }
            var trailer = ProtoWriter()
            trailer.append64(UInt64(body.count))
            return body + d.bytes + trailer.bytes
        }
        let body = [UInt8](repeating: 0, count: 64) + graph.bytes
        let g = Int64(64), gl = Int64(graph.bytes.count)
        XCTAssertEqual(memmappedProblem(file([(0, "memmapped_package://w", 16), (g, "memmapped_package://.", gl)], body: body)), "read")
        XCTAssertTrue(memmappedProblem(file([(0, "memmapped_package://w", 16), (g, "memmapped_package://.", gl + 1)], body: body))
            .contains("runs past the directory"))
        XCTAssertTrue(memmappedProblem(file([(g, "memmapped_package://.", gl), (0, "memmapped_package://w", 16)], body: body))
            .contains("offsets do not increase"))
        XCTAssertTrue(memmappedProblem(file([(0, "memmapped_package://w", 16), (16, "memmapped_package://w", 16), (g, "memmapped_package://.", gl)], body: body))
            .contains("two elements are named"))
        XCTAssertTrue(memmappedProblem(file([(0, "w", 16), (g, "memmapped_package://.", gl)], body: body))
            .contains("without the 'memmapped_package://' prefix"))
        XCTAssertTrue(memmappedProblem(file([(0, "memmapped_package://w", 16), (g, "memmapped_package://.", 0), (1 << 40, "memmapped_package://x", 0)], body: body))
            .contains("at or after the directory"))
        // No GraphDef element: not a memory-mapped graph, and not a GraphDef either.
        let noGraph = memmappedProblem(file([(0, "memmapped_package://w", 16)], body: body))
        XCTAssertTrue(noGraph.contains("is neither a frozen TensorFlow GraphDef"), noGraph)
        XCTAssertTrue(noGraph.contains("has no 'memmapped_package://.' (GraphDef) element"), noGraph)
        // A directory offset past the end.
        var bad = file([(0, "memmapped_package://w", 16), (g, "memmapped_package://.", gl)], body: body)
        bad[bad.count - 1] = 0x7F
        XCTAssertTrue(memmappedProblem(bad).contains("is not inside the"), memmappedProblem(bad))
    }
}
