import Foundation
import XCTest
import PyTorchCheckpoints

final class PickleReaderTests: XCTestCase {
    func read(_ bytes: [UInt8]) throws -> PickleValue { try PickleReader.value(of: bytes) }

    func entry(_ key: String, _ value: PickleValue) -> PickleDict.Entry { PickleDict.Entry(key: .string(key), value: value) }

    /// Asserts that reading throws a PickleError whose message contains every fragment.
    func assertRefused(_ bytes: [UInt8], _ fragments: String..., file: StaticString = #filePath, line: UInt = #line) {
        do {
            let value = try read(bytes)
            XCTFail("read \(value) instead of refusing", file: file, line: line)
        } catch let error as PickleError {
            for fragment in fragments {
                XCTAssertTrue(error.description.contains(fragment), "'\(error)' lacks '\(fragment)'", file: file, line: line)
            }
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    // MARK: What CPython writes

    func testEveryProtocolOfCPythonReadsTheSameValue() throws {
        let expected: PickleValue = .dict(PickleDict(entries: [
            entry("a", .list([.int(1), .float(2.5), .string("x"), .bytes([0xFF, 0x00])])),
            entry("big", .bigInt(PickleBigInt(littleEndianBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0x40]))),
            entry("neg", .int(-300)),
            entry("negbig", .bigInt(PickleBigInt(littleEndianBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0xC0]))),
            entry("t", .tuple([.int(1)])),
            entry("n", .none),
            entry("tf", .tuple([.bool(true), .bool(false)])),
            entry("u", .string("é€😀")),
            entry("s", .set([.int(3)], frozen: false)),
            entry("fs", .set([.int(4)], frozen: true)),
            entry("ba", .bytes([0x61, 0x62])),
            entry("f", .float(-0.1)),
        ]))
        for (protocolVersion, hex) in PythonPickles.plain.enumerated() {
            let result = try PickleReader().read(PythonPickles.bytes(hex))
            XCTAssertEqual(result.value, expected, "protocol \(protocolVersion)")
            XCTAssertEqual(result.protocolVersion, protocolVersion >= 2 ? protocolVersion : 0)
            XCTAssertEqual(result.endOffset, hex.count / 2)
        }
        XCTAssertEqual(PickleBigInt(littleEndianBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0x40]).description, "1180591620717411303424")
        XCTAssertEqual(PickleBigInt(littleEndianBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0xC0]).description, "-1180591620717411303424")
    }

    func testOrderedDictBuildStateIsMetadataNotItems() throws {
        for hex in [PythonPickles.od2, PythonPickles.od4] {
            let value = try read(PythonPickles.bytes(hex))
            guard case .dict(let dict) = value else { return XCTFail("\(value)") }
            XCTAssertTrue(dict.ordered)
            XCTAssertEqual(dict.stringKeys, ["w", "b"])
            XCTAssertEqual(dict["w"], .int(1))
            XCTAssertNil(dict["_metadata"])
            XCTAssertEqual(dict.attributes?["_metadata"]?[""]?["version"], .int(1))
        }
    }

    func testClassInstancesAreInertRecords() throws {
        for hex in [PythonPickles.foo2, PythonPickles.foo4] {
            guard case .object(let object) = try read(PythonPickles.bytes(hex)) else { return XCTFail() }
            XCTAssertEqual(object.construction, .newObject)
            XCTAssertEqual(object.typeName?.module, "__main__")
            XCTAssertEqual(object.typeName?.name, "Foo")
            XCTAssertEqual(object.attribute("x"), .int(1))
            XCTAssertEqual(object.attribute("name"), .string("n"))
        }
        // __slots__ state is a (None, {slots}) pair.
        for hex in [PythonPickles.slot2, PythonPickles.slot4] {
            guard case .object(let object) = try read(PythonPickles.bytes(hex)) else { return XCTFail() }
            XCTAssertEqual(object.attribute("a"), .int(5))
        }
        guard case .object(let member) = try read(PythonPickles.bytes(PythonPickles.enum2)) else { return XCTFail() }
        XCTAssertEqual(member.construction, .reduce)
        XCTAssertEqual(member.args, .tuple([.string("red")]))
    }

    func testLegacyMagicNumberIsABigInt() throws {
        let value = try read(PythonPickles.bytes(PythonPickles.magic))
        guard case .bigInt(let number) = value else { return XCTFail("\(value)") }
        XCTAssertEqual(number.description, "119547037146038801333356")
    }

    // MARK: Hand-built opcodes

    func testIntegers() throws {
        XCTAssertEqual(try read([0x80, 2, 0x4A, 0xFE, 0xFF, 0xFF, 0xFF, 0x2E]), .int(-2))             // BININT
        XCTAssertEqual(try read([0x80, 2, 0x4B, 0xFF, 0x2E]), .int(255))                               // BININT1
        XCTAssertEqual(try read([0x80, 2, 0x4D, 0xFF, 0xFF, 0x2E]), .int(65535))                       // BININT2
        XCTAssertEqual(try read([0x80, 2, 0x8A, 0, 0x2E]), .int(0))                                    // LONG1 empty
        XCTAssertEqual(try read([0x80, 2, 0x8A, 1, 0xFF, 0x2E]), .int(-1))
        XCTAssertEqual(try read([0x80, 2, 0x8A, 2, 0x00, 0xFF, 0x2E]), .int(-256))
        XCTAssertEqual(try read([0x80, 2, 0x8A, 2, 0xD4, 0xFE, 0x2E]), .int(-300))
        XCTAssertEqual(try read([0x80, 2, 0x8A, 1, 0x80, 0x2E]), .int(-128))
        XCTAssertEqual(try read([0x80, 2, 0x8A, 2, 0x80, 0x00, 0x2E]), .int(128))
        // Int64.min and max in 8 bytes; 2^63 needs 9 bytes and a big-int record.
        XCTAssertEqual(try read([0x80, 2, 0x8A, 8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x2E]), .int(.min))
        XCTAssertEqual(try read([0x80, 2, 0x8A, 8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E]), .int(.max))
        XCTAssertEqual(try read([0x80, 2, 0x8A, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0x2E]),
                       .bigInt(PickleBigInt(littleEndianBytes: [0, 0, 0, 0, 0, 0, 0, 0x80, 0])))
        // Redundant sign bytes still fit in 64 bits.
        XCTAssertEqual(try read([0x80, 2, 0x8A, 10, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E]), .int(-2))
        XCTAssertEqual(try read([0x80, 2, 0x8B, 2, 0, 0, 0, 0x39, 0x30, 0x2E]), .int(12345))            // LONG4
        XCTAssertEqual(PickleBigInt(littleEndianBytes: [0, 0, 0, 0, 0, 0, 0, 0x80, 0]).description, "9223372036854775808")
        assertRefused([0x80, 2, 0x8B, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], "negative length")
        // Protocol 0 INT / LONG.
        XCTAssertEqual(try read(Array("I-7\n.".utf8)), .int(-7))
        XCTAssertEqual(try read(Array("L-18446744073709551616L\n.".utf8)),
                       .bigInt(PickleBigInt(littleEndianBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0xFF])))
    }

    func testFloatsAreBigEndian() throws {
        XCTAssertEqual(try read([0x80, 2, 0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 0x2E]), .float(1.5))
        XCTAssertEqual(try read([0x80, 2, 0x47, 0xBF, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A, 0x2E]), .float(-0.1))
        XCTAssertEqual(try read(Array("F1e-3\n.".utf8)), .float(0.001))
        guard case .float(let nan) = try read([0x80, 2, 0x47, 0x7F, 0xF8, 0, 0, 0, 0, 0, 0, 0x2E]) else { return XCTFail() }
        XCTAssertTrue(nan.isNaN)
    }

    func testStringsAndBytes() throws {
        XCTAssertEqual(try read([0x80, 4, 0x8C, 2, 0x68, 0x69, 0x2E]), .string("hi"))                       // SHORT_BINUNICODE
        XCTAssertEqual(try read([0x80, 4, 0x8D, 1, 0, 0, 0, 0, 0, 0, 0, 0x7A, 0x2E]), .string("z"))          // BINUNICODE8
        XCTAssertEqual(try read([0x80, 2, 0x55, 2, 0x6F, 0x6B, 0x2E]), .string("ok"))                       // SHORT_BINSTRING
        XCTAssertEqual(try read([0x80, 2, 0x54, 1, 0, 0, 0, 0xFF, 0x2E]), .bytes([0xFF]))                   // BINSTRING, not UTF-8
        XCTAssertEqual(try read([0x80, 3, 0x42, 1, 0, 0, 0, 0x00, 0x2E]), .bytes([0]))                      // BINBYTES
        XCTAssertEqual(try read([0x80, 3, 0x43, 1, 0x07, 0x2E]), .bytes([7]))                               // SHORT_BINBYTES
        XCTAssertEqual(try read([0x80, 4, 0x8E, 1, 0, 0, 0, 0, 0, 0, 0, 0x09, 0x2E]), .bytes([9]))          // BINBYTES8
        XCTAssertEqual(try read([0x80, 5, 0x96, 2, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0x2E]), .bytes([1, 2]))       // BYTEARRAY8
        XCTAssertEqual(try read(Array("S'a\\'b\\n\\x41\\101'\n.".utf8)), .string("a'b\nAA"))                 // STRING escapes
        XCTAssertEqual(try read(Array("Vx\\u00e9\\U0001f600\n.".utf8)), .string("xé😀"))                    // UNICODE
        // _codecs.encode(str, 'latin1') → bytes, as protocol 2 writes Python 3 bytes.
        var encode: [UInt8] = [0x80, 2] + Array("c_codecs\nencode\n".utf8)
        encode += [0x58, 4, 0, 0, 0, 0xC3, 0xBF, 0xC2, 0x80]  // 'ÿ\u0080'
        encode += [0x58, 6, 0, 0, 0] + Array("latin1".utf8) + [0x86, 0x52, 0x2E]
        XCTAssertEqual(try read(encode), .bytes([0xFF, 0x80]))
        // A string longer than the data left is a truncation, not a huge allocation.
        assertRefused([0x80, 4, 0x8D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E], "truncated", "BINUNICODE8")
        assertRefused([0x80, 2, 0x58, 0x10, 0, 0, 0, 0x41, 0x2E], "truncated", "BINUNICODE")
    }

    func testContainersAndStackOpcodes() throws {
        // (MARK 1 2 3 TUPLE), TUPLE1..3, EMPTY_TUPLE in a list via APPENDS.
        let bytes: [UInt8] = [0x80, 2, 0x5D, 0x28,
                              0x28, 0x4B, 1, 0x4B, 2, 0x4B, 3, 0x74,
                              0x4B, 1, 0x85, 0x4B, 1, 0x4B, 2, 0x86, 0x4B, 1, 0x4B, 2, 0x4B, 3, 0x87, 0x29,
                              0x65, 0x2E]
        XCTAssertEqual(try read(bytes), .list([.tuple([.int(1), .int(2), .int(3)]), .tuple([.int(1)]), .tuple([.int(1), .int(2)]),
                                               .tuple([.int(1), .int(2), .int(3)]), .tuple([])]))
        // SETITEM replaces an equal key in place; SETITEMS adds in order.
        let dict: [UInt8] = [0x80, 2, 0x7D, 0x8C, 1, 0x6B, 0x4B, 1, 0x73, 0x28, 0x8C, 1, 0x6A, 0x4B, 2, 0x8C, 1, 0x6B, 0x4B, 3, 0x75, 0x2E]
        XCTAssertEqual(try read(dict), .dict(PickleDict(entries: [entry("k", .int(3)), entry("j", .int(2))])))
        // EMPTY_SET + ADDITEMS; FROZENSET.
        XCTAssertEqual(try read([0x80, 4, 0x8F, 0x28, 0x4B, 1, 0x4B, 2, 0x90, 0x2E]), .set([.int(1), .int(2)], frozen: false))
        XCTAssertEqual(try read([0x80, 4, 0x28, 0x4B, 1, 0x91, 0x2E]), .set([.int(1)], frozen: true))
        // POP, POP_MARK, DUP.
        XCTAssertEqual(try read([0x80, 2, 0x4B, 1, 0x4B, 2, 0x30, 0x2E]), .int(1))
        XCTAssertEqual(try read([0x80, 2, 0x4B, 1, 0x28, 0x4B, 2, 0x4B, 3, 0x31, 0x2E]), .int(1))
        XCTAssertEqual(try read([0x80, 2, 0x4B, 7, 0x32, 0x86, 0x2E]), .tuple([.int(7), .int(7)]))
        // Protocol 0 DICT and LIST.
        XCTAssertEqual(try read(Array("(lI1\naI2\na.".utf8)), .list([.int(1), .int(2)]))
        XCTAssertEqual(try read(Array("(VA\nI1\nd.".utf8)), .dict(PickleDict(entries: [entry("A", .int(1))])))
        // Misuse is an error, never a crash.
        assertRefused([0x80, 2, 0x30, 0x2E], "POP")
        assertRefused([0x80, 2, 0x4B, 1, 0x61, 0x2E], "APPEND")
        assertRefused([0x80, 2, 0x4B, 1, 0x4B, 2, 0x73, 0x2E], "SETITEM")
        assertRefused([0x80, 2, 0x7D, 0x28, 0x4B, 1, 0x75, 0x2E], "odd number")
        assertRefused([0x80, 2, 0x74, 0x2E], "MARK")
        assertRefused([0x80, 2, 0x28, 0x2E], "STOP")
        assertRefused([0x80, 2, 0x4B, 1, 0x4E, 0x62, 0x2E], "BUILD")
        assertRefused([0x80, 9, 0x4E, 0x2E], "protocol 9")
    }

    func testMemoSharesMutableObjects() throws {
        // d = {}; l = []; d['l'] = l (via memo); then l.append(1) after it was stored.
        let bytes: [UInt8] = [0x80, 2, 0x7D, 0x71, 0, 0x5D, 0x71, 1, 0x30,  // d, l memoized; l popped
                              0x8C, 1, 0x6C, 0x68, 1, 0x73,                    // d['l'] = l
                              0x68, 1, 0x4B, 1, 0x61, 0x30,                    // l.append(1); pop l
                              0x8C, 1, 0x6D, 0x6A, 1, 0, 0, 0, 0x73,           // d['m'] = l (LONG_BINGET)
                              0x2E]
        XCTAssertEqual(try read(bytes), .dict(PickleDict(entries: [entry("l", .list([.int(1)])), entry("m", .list([.int(1)]))])))
        // LONG_BINPUT and MEMOIZE.
        XCTAssertEqual(try read([0x80, 4, 0x4B, 5, 0x72, 0x10, 0, 0, 0, 0x6A, 0x10, 0, 0, 0, 0x86, 0x2E]), .tuple([.int(5), .int(5)]))
        XCTAssertEqual(try read([0x80, 4, 0x4B, 5, 0x94, 0x4B, 6, 0x94, 0x68, 0, 0x68, 1, 0x87, 0x2E]), .tuple([.int(6), .int(5), .int(6)]))
        assertRefused([0x80, 2, 0x68, 3, 0x2E], "memo entry 3")
        // A list that contains itself ends in a cycle marker.
        XCTAssertEqual(try read(PythonPickles.bytes(PythonPickles.cycle)), .list([.cycle]))
    }

    func testGlobalsAreSymbols() throws {
        XCTAssertEqual(try read([0x80, 2] + Array("c__builtin__\nlen\n.".utf8)), .global(module: "builtins", name: "len"))
        XCTAssertEqual(try read([0x80, 4, 0x8C, 5] + Array("torch".utf8) + [0x8C, 12] + Array("FloatStorage".utf8) + [0x93, 0x2E]),
                       .global(module: "torch", name: "FloatStorage"))
        assertRefused([0x80, 4, 0x4B, 1, 0x4B, 2, 0x93, 0x2E], "STACK_GLOBAL")
        // NEWOBJ_EX keeps the keyword arguments.
        var ex: [UInt8] = [0x80, 4] + Array("cm\nC\n".utf8) + [0x29, 0x7D, 0x8C, 1, 0x6B, 0x4B, 1, 0x73, 0x92, 0x2E]
        guard case .object(let object) = try read(ex) else { return XCTFail() }
        XCTAssertEqual(object.kwargs?["k"], .int(1))
        // BUILD on an inert object stores the state; APPEND/SETITEM on it are kept as its items.
        ex = [0x80, 2] + Array("ccollections\ndefaultdict\n".utf8) + [0x29, 0x52, 0x8C, 1, 0x6B, 0x4B, 1, 0x73, 0x2E]
        guard case .object(let defaultDict) = try read(ex) else { return XCTFail() }
        XCTAssertEqual(defaultDict.dictItems, [entry("k", .int(1))])
    }

    func testSetsBytearraysAndPersistentIDs() throws {
        var bytes: [UInt8] = [0x80, 2] + Array("c__builtin__\nset\n".utf8) + [0x5D, 0x4B, 3, 0x61, 0x85, 0x52, 0x2E]
        XCTAssertEqual(try read(bytes), .set([.int(3)], frozen: false))
        bytes = [0x80, 2] + Array("cbuiltins\nbytearray\n".utf8) + [0x29, 0x52, 0x2E]
        XCTAssertEqual(try read(bytes), .bytes([]))
        // A persistent id that is not a storage stays a record.
        XCTAssertEqual(try read([0x80, 2, 0x4B, 1, 0x51, 0x2E]), .persistentID(.int(1)))
        XCTAssertEqual(try read(Array("Pabc\n.".utf8)), .persistentID(.string("abc")))
    }

    func testTensorRebuildsBecomeReferences() throws {
        let value = try read(PickleWriter.pickle(.tensor(storageType: "FloatStorage", key: "7", numel: 12, view: nil, offset: 2, size: [3, 2], stride: [1, 3])))
        guard case .tensor(let tensor) = value else { return XCTFail("\(value)") }
        XCTAssertEqual(tensor.storage.key, "7")
        XCTAssertEqual(tensor.storage.dataType, .float32)
        XCTAssertEqual(tensor.storage.elementCount, 12)
        XCTAssertEqual(tensor.storage.location, "cpu")
        XCTAssertEqual(tensor.storageOffset, 2)
        XCTAssertEqual(tensor.shape, [3, 2])
        XCTAssertEqual(tensor.strides, [1, 3])
        XCTAssertFalse(tensor.isContiguous)
        // _rebuild_parameter(tensor, True, OrderedDict()) and _rebuild_from_type_v2(func, type, args, state).
        var w = PickleWriter()
        w.emit(.global("torch._utils", "_rebuild_parameter"))
        w.emit(.tensor(storageType: "HalfStorage", key: "0", numel: 4, view: nil, offset: 0, size: [4], stride: [1]))
        w.emit(.bool(true))
        w.emit(.ordered([], state: nil))
        w.out += [0x87, 0x52, 0x2E]
        guard case .tensor(let parameter) = try read(w.out) else { return XCTFail() }
        XCTAssertTrue(parameter.requiresGrad)
        XCTAssertEqual(parameter.storage.dataType, .float16)
        XCTAssertTrue(parameter.isContiguous)
        var v = PickleWriter()
        v.emit(.global("torch._tensor", "_rebuild_from_type_v2"))
        v.out.append(0x28)
        v.emit(.global("torch._utils", "_rebuild_tensor_v2"))
        v.emit(.global("torch", "Tensor"))
        v.out.append(0x28)
        v.emit(.tuple([.str("storage"), .global("torch", "LongStorage"), .str("1"), .str("cuda:0"), .int(1)]))
        v.out.append(0x51)
        v.emit(.int(0)); v.emit(.tuple([])); v.emit(.tuple([])); v.emit(.bool(false)); v.emit(.ordered([], state: nil))
        v.out.append(0x74)
        v.emit(.dict([]))
        v.out += [0x74, 0x52, 0x2E]
        guard case .tensor(let scalar) = try read(v.out) else { return XCTFail() }
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.storage.dataType, .int64)
        // Malformed rebuild arguments are refused with the function's name.
        var bad = PickleWriter()
        bad.emit(.reduce(.global("torch._utils", "_rebuild_tensor_v2"), [.int(1), .int(0), .tuple([]), .tuple([])]))
        bad.out.append(0x2E)
        assertRefused(bad.out, "_rebuild_tensor_v2", "storage")
    }

    // MARK: Safety

    func testUnsafeOpcodesAreRefusedByNameAndOffset() {
        assertRefused(Array("(S'touch /tmp/x'\nios\nsystem\n.".utf8), "unsafe opcode INST", "byte 17")
        assertRefused([0x80, 2, 0x28] + Array("cos\nsystem\n".utf8) + [0x6F, 0x2E], "unsafe opcode OBJ", "byte 14")
        assertRefused([0x80, 2, 0x82, 1, 0x2E], "unsafe opcode EXT1", "byte 2")
        assertRefused([0x80, 2, 0x83, 1, 0, 0x2E], "unsafe opcode EXT2")
        assertRefused([0x80, 2, 0x84, 1, 0, 0, 0, 0x2E], "unsafe opcode EXT4")
        assertRefused([0x80, 5, 0x97, 0x2E], "NEXT_BUFFER")
        assertRefused([0x80, 2, 0xFF, 0x2E], "unknown pickle opcode 0xff", "byte 2")
    }

    func testCodeExecutionPicklesOnlyProduceInertRecords() throws {
        let marker = "/tmp/swift-deepspeech-pwned"
        try? FileManager.default.removeItem(atPath: marker)
        for hex in [PythonPickles.evil, PythonPickles.evil0] {
            guard case .object(let object) = try read(PythonPickles.bytes(hex)) else { return XCTFail() }
            XCTAssertEqual(object.callable, .global(module: "posix", name: "system"))
            XCTAssertEqual(object.args, .tuple([.string("touch \(marker)")]))
        }
        guard case .object(let eval) = try read(PythonPickles.bytes(PythonPickles.evil2)) else { return XCTFail() }
        XCTAssertEqual(eval.callable, .global(module: "builtins", name: "eval"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    func testEveryTruncationIsAnErrorNotACrash() {
        for hex in PythonPickles.plain + [PythonPickles.od2, PythonPickles.foo4, PythonPickles.magic] {
            let bytes = PythonPickles.bytes(hex)
            for length in 0..<bytes.count {
                do {
                    _ = try read(Array(bytes[..<length]))
                    // A prefix can be a complete pickle only if it ends on a STOP.
                    XCTAssertEqual(bytes[length - 1], 0x2E)
                } catch let error as PickleError {
                    XCTAssertTrue(error.isTruncation, "\(error)")
                } catch {
                    XCTFail("\(error)")
                }
            }
        }
    }

    func testLimitsStopHostilePickles() {
        // 100 000 nested lists: deeper than the nesting limit, refused without overflowing the stack.
        var deep: [UInt8] = [0x80, 2]
        for _ in 0..<100_000 { deep += [0x5D, 0x28] }
        deep += [0x4E]
        for _ in 0..<100_000 { deep += [0x65] }
        deep.append(0x2E)
        assertRefused(deep, "nests containers more than")
        // Nested tuples (TUPLE1 over and over).
        assertRefused([0x80, 2, 0x4E] + [UInt8](repeating: 0x85, count: 200_000) + [0x2E], "nests containers more than")
        // "Billion laughs": a list holding the previous one ten times, 40 levels deep.
        var laughs: [UInt8] = [0x80, 2, 0x4E, 0x71, 0]
        for level in 1...40 {
            laughs += [0x5D, 0x28] + [UInt8](repeating: 0, count: 10).flatMap { _ in [0x68, UInt8(level - 1)] } + [0x65, 0x71, UInt8(level)]
        }
        laughs.append(0x2E)
        assertRefused(laughs, "expand to more than")
        // A small memo limit.
        var limits = PickleReader.Limits()
        limits.memoEntries = 2
        XCTAssertThrowsError(try PickleReader(limits: limits).read([0x80, 4, 0x4E, 0x94, 0x94, 0x94, 0x2E]))
        limits = PickleReader.Limits()
        limits.stackDepth = 3
        XCTAssertThrowsError(try PickleReader(limits: limits).read([0x80, 2, 0x4E, 0x4E, 0x4E, 0x4E, 0x2E]))
    }

    func testReadingStopsAtStopAndReportsTheEnd() throws {
        let two: [UInt8] = [0x80, 2, 0x4B, 1, 0x2E, 0x80, 2, 0x4B, 2, 0x2E]
        let first = try PickleReader().read(two)
        XCTAssertEqual(first.value, .int(1))
        XCTAssertEqual(first.endOffset, 5)
        let second = try two.withUnsafeBytes { try PickleReader().read($0, range: first.endOffset..<two.count) }
        XCTAssertEqual(second.value, .int(2))
        XCTAssertEqual(second.endOffset, 10)
        // Offsets in errors are in the whole buffer.
        let broken: [UInt8] = [0x80, 2, 0x4B, 1, 0x2E, 0x80, 2, 0x69]
        XCTAssertThrowsError(try broken.withUnsafeBytes { try PickleReader().read($0, range: 5..<8) }) {
            XCTAssertEqual(($0 as? PickleError)?.offset, 7)
        }
    }
}
