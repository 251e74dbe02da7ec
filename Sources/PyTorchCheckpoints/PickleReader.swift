/// Why a pickle could not be read: the byte offset of the opcode at fault (in the buffer
/// passed to ``PickleReader``, so a file offset when the whole file was passed) and what is
/// wrong there.
public struct PickleError: Error, CustomStringConvertible, Sendable {
    public let offset: Int
    public let problem: String
    /// True when the data ended before the pickle did (a truncated file).
    public let isTruncation: Bool
    /// True when the pickle used an opcode that is refused for safety (INST, OBJ, EXT1/2/4).
    public let isUnsafe: Bool

    public init(offset: Int, problem: String, isTruncation: Bool = false, isUnsafe: Bool = false) {
        self.offset = offset
        self.problem = problem
        self.isTruncation = isTruncation
        self.isUnsafe = isUnsafe
    }

    public var description: String { "at byte \(offset): \(problem)" }
}

/// A Python unpickler that never imports or calls anything, for reading `torch.save` and
/// PyTorch Lightning checkpoints safely.
///
/// Everything a pickle names (GLOBAL, STACK_GLOBAL) becomes an inert
/// ``PickleValue/global(module:name:)``; everything it would call (REDUCE, NEWOBJ,
/// NEWOBJ_EX) becomes a ``PickleObject`` record of the callable and its arguments, and BUILD
/// stores its state on that record. A pickle that names `posix.system` or `builtins.eval`
/// therefore reads as a harmless record. Only a few callables are interpreted, because their
/// meaning is plain data:
/// * `collections.OrderedDict` → an ordered ``PickleDict`` (BUILD state on it is kept as
///   instance ``PickleDict/attributes``, not items: a state_dict's `_metadata`);
/// * `torch._utils._rebuild_tensor_v2`, `_rebuild_tensor`, `_rebuild_tensor_v3` (an
///   `UntypedStorage` plus a dtype, torch ≥ 2.1), `_rebuild_parameter`,
///   `_rebuild_parameter_with_state` and `torch._tensor._rebuild_from_type_v2` → a
///   ``TorchTensorReference`` (the storage, offset, sizes and strides; the bytes are read by
///   ``TorchCheckpoint``);
/// * `_codecs.encode(str, 'latin1')` (how protocol 2 writes Python 3 bytes), and
///   `builtins.bytearray` → bytes;
/// * `builtins.set` and `frozenset` → sets.
///
/// Supported opcodes: PROTO, FRAME, STOP, MARK, POP, POP_MARK, DUP; NONE, NEWTRUE,
/// NEWFALSE; BININT, BININT1, BININT2, LONG1, LONG4, BINFLOAT (big-endian); BINUNICODE,
/// SHORT_BINUNICODE, BINUNICODE8, BINSTRING, SHORT_BINSTRING, BINBYTES, SHORT_BINBYTES,
/// BINBYTES8, BYTEARRAY8; EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE, EMPTY_SET, FROZENSET, TUPLE,
/// TUPLE1-3, APPEND, APPENDS, SETITEM, SETITEMS, ADDITEMS; BINPUT, LONG_BINPUT, MEMOIZE,
/// BINGET, LONG_BINGET; GLOBAL, STACK_GLOBAL, BINPERSID, PERSID, REDUCE, NEWOBJ, NEWOBJ_EX,
/// BUILD; and the protocol 0 text forms INT, LONG, FLOAT, STRING, UNICODE, DICT, LIST, PUT,
/// GET. INST and OBJ (which import and call in one step), EXT1/2/4 (the extension registry),
/// out-of-band buffers and unknown opcodes are refused with an error naming the opcode and
/// its byte offset.
///
/// Objects can be changed after they are made (through the memo), so the reader builds with
/// reference semantics and hands back an immutable tree at STOP. References back to an
/// enclosing object become ``PickleValue/cycle``; shared objects are shared in the tree (not
/// copied), and ``Limits`` bound the memo, the stack, the nesting depth and how large the
/// tree would be if every shared reference were expanded.
public struct PickleReader: Sendable {
    public struct Limits: Sendable {
        /// Most memo entries.
        public var memoEntries = 10_000_000
        /// Most values on the stack (all marks together).
        public var stackDepth = 10_000_000
        /// Deepest nesting of containers in the result.
        public var nesting = 200
        /// Most values in the result with every shared reference expanded (a guard against
        /// "billion laughs" pickles that share one list many times over).
        public var expandedValues = 20_000_000

        public init() {}
    }

    /// A pickle read from a buffer.
    public struct Result: Sendable {
        public let value: PickleValue
        /// The byte just after the STOP opcode (where a following pickle would start).
        public let endOffset: Int
        /// The protocol named by PROTO (0 when the pickle has no PROTO opcode).
        public let protocolVersion: Int
        /// Every torch storage named by a persistent id, in order of appearance.
        public let storages: [TorchStorageReference]
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Reads one pickle from `bytes[range]` (the whole buffer when `range` is nil), up to
    /// and including its STOP opcode. Error offsets are indices into `bytes`.
    public func read(_ bytes: UnsafeRawBufferPointer, range: Range<Int>? = nil) throws -> Result {
        let range = range ?? 0..<bytes.count
        guard range.lowerBound >= 0, range.upperBound <= bytes.count else {
            throw PickleError(offset: max(0, range.lowerBound), problem: "pickle range \(range) lies outside the \(bytes.count)-byte buffer", isTruncation: true)
        }
        let machine = Unpickler(bytes: bytes, start: range.lowerBound, end: range.upperBound, limits: limits)
        defer { machine.releaseAll() }
        return try machine.run()
    }

    /// Reads one pickle from the start of `bytes`.
    public func read(_ bytes: [UInt8]) throws -> Result {
        try bytes.withUnsafeBytes { try read($0) }
    }

    /// Reads one pickle from the start of `bytes` and returns its value.
    public static func value(of bytes: [UInt8]) throws -> PickleValue {
        try PickleReader().read(bytes).value
    }
}

// MARK: - The machine

/// A value on the unpickler's stack or in its memo: plain data, or a container that later
/// opcodes may still change.
private enum Item {
    case leaf(PickleValue)
    case node(Node)
}

/// A mutable container. Every node is registered with the machine, whose `releaseAll`
/// empties them one by one so that a deeply nested structure is never freed recursively.
private final class Node {
    enum Kind {
        case list, tuple, dict(ordered: Bool), set(frozen: Bool), object(PickleObject.Construction), persistentID
    }

    let kind: Kind
    /// Elements (list, tuple, set), or an object's appended items.
    @exclusivity(unchecked) var items: [Item] = []
    /// Entries (dict), or an object's set items.
    @exclusivity(unchecked) var keys: [Item] = []
    @exclusivity(unchecked) var values: [Item] = []
    @exclusivity(unchecked) var stringKeyIndex: [String: Int] = [:]
    @exclusivity(unchecked) var intKeyIndex: [Int64: Int] = [:]
    /// Object: callable, args, kwargs, state. Dict: `state` holds BUILD's instance state.
    /// Persistent id: `args` holds the id.
    var callable: Item?
    var args: Item?
    var kwargs: Item?
    var state: Item?

    init(_ kind: Kind) { self.kind = kind }

    func setItem(_ key: Item, _ value: Item) {
        switch key {
        case .leaf(.string(let s)):
            if let i = stringKeyIndex[s] { values[i] = value; return }
            stringKeyIndex[s] = keys.count
        case .leaf(.int(let n)):
            if let i = intKeyIndex[n] { values[i] = value; return }
            intKeyIndex[n] = keys.count
        default: break
        }
        keys.append(key)
        values.append(value)
    }

    func clear() {
        items = []; keys = []; values = []
        stringKeyIndex = [:]; intKeyIndex = [:]
        callable = nil; args = nil; kwargs = nil; state = nil
    }
}

private final class Unpickler {
    let bytes: UnsafeRawBufferPointer
    let start: Int
    let end: Int
    let limits: PickleReader.Limits
    @exclusivity(unchecked) var position: Int
    /// Offset of the opcode being executed (for messages).
    var opStart = 0
    var opcode: UInt8 = 0
    @exclusivity(unchecked) var stack: [Item] = []
    /// Stack heights at each MARK.
    @exclusivity(unchecked) var marks: [Int] = []
    @exclusivity(unchecked) var denseMemo: [Item?] = []
    @exclusivity(unchecked) var sparseMemo: [Int: Item] = [:]
    var memoCount = 0
    @exclusivity(unchecked) var nodes: [Node] = []
    var protocolVersion = 0
    var storages: [TorchStorageReference] = []

    init(bytes: UnsafeRawBufferPointer, start: Int, end: Int, limits: PickleReader.Limits) {
        self.bytes = bytes
        self.start = start
        self.end = end
        self.limits = limits
        self.position = start
    }

    func releaseAll() {
        for node in nodes { node.clear() }
        nodes = []
        stack = []
        denseMemo = []
        sparseMemo = [:]
    }

    // MARK: Errors

    func fail(_ problem: String) -> PickleError {
        PickleError(offset: opStart, problem: problem)
    }

    var opName: String { Opcode.name(opcode) }

    // MARK: Reading the byte stream

    func need(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count >= 0, count <= end - position else {
            throw PickleError(offset: opStart, problem: "truncated: \(opName) needs \(what()) (\(count) bytes from byte \(position)), but the data ends at byte \(end)", isTruncation: true)
        }
    }

    func byte() throws -> UInt8 {
        try need(1, "an argument byte")
        defer { position += 1 }
        return bytes[position]
    }

    /// An unsigned little-endian integer of `count` bytes (count ≤ 8).
    func unsigned(_ count: Int) throws -> UInt64 {
        try need(count, "a \(count)-byte argument")
        var value: UInt64 = 0
        for i in 0..<count { value |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += count
        return value
    }

    /// A length argument of `width` bytes, checked against the bytes left.
    func length(_ width: Int, signed: Bool = false) throws -> Int {
        let raw = try unsigned(width)
        if signed {
            let value = Int64(Int32(truncatingIfNeeded: raw))
            guard value >= 0 else { throw fail("\(opName) has a negative length (\(value))") }
            return Int(value)
        }
        guard raw <= UInt64(end - position) else {
            throw PickleError(offset: opStart, problem: "truncated: \(opName) announces \(raw) bytes at byte \(position), but the data ends at byte \(end)", isTruncation: true)
        }
        return Int(raw)
    }

    func take(_ count: Int) throws -> UnsafeRawBufferPointer {
        try need(count, "\(count) bytes of data")
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    /// A text line (protocol 0 arguments), without its newline.
    func line() throws -> [UInt8] {
        var i = position
        while i < end && bytes[i] != 0x0A { i += 1 }
        guard i < end else {
            throw PickleError(offset: opStart, problem: "truncated: \(opName) needs a newline-terminated argument, but the data ends at byte \(end)", isTruncation: true)
        }
        defer { position = i + 1 }
        return Array(bytes[position..<i])
    }

    // MARK: The stack

    func push(_ item: Item) throws {
        guard stack.count < limits.stackDepth else { throw fail("the stack grew past \(limits.stackDepth) values") }
        stack.append(item)
    }

    func push(_ value: PickleValue) throws { try push(.leaf(value)) }

    func newNode(_ kind: Node.Kind) -> Node {
        let node = Node(kind)
        nodes.append(node)
        return node
    }

    func pop() throws -> Item {
        guard stack.count > (marks.last ?? 0), let item = stack.popLast() else {
            throw fail("\(opName) finds the stack empty (above the last MARK)")
        }
        return item
    }

    func top() throws -> Item {
        guard stack.count > (marks.last ?? 0), let item = stack.last else {
            throw fail("\(opName) finds the stack empty (above the last MARK)")
        }
        return item
    }

    func popMark() throws -> [Item] {
        guard let mark = marks.popLast() else { throw fail("\(opName) without a MARK before it") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    /// Memo entries: indices are normally 0, 1, 2, … so they live in an array; an index far
    /// past the end goes to a dictionary instead of growing the array.
    func memoize(_ index: Int) throws {
        let item = try top()
        if index < denseMemo.count {
            if denseMemo[index] == nil { memoCount += 1 }
            denseMemo[index] = item
            return
        }
        let isNew = index >= denseMemo.count + 1024 ? sparseMemo[index] == nil : true
        if isNew && memoCount >= limits.memoEntries {
            throw fail("the memo grew past \(limits.memoEntries) entries")
        }
        if index < denseMemo.count + 1024 {
            while denseMemo.count < index { denseMemo.append(nil) }
            denseMemo.append(item)
        } else {
            sparseMemo[index] = item
        }
        if isNew { memoCount += 1 }
    }

    func recall(_ index: Int) throws -> Item {
        if index < denseMemo.count, let item = denseMemo[index] { return item }
        guard let item = sparseMemo[index] else { throw fail("\(opName) of memo entry \(index), which was never stored") }
        return item
    }

    // MARK: Running

    func run() throws -> PickleReader.Result {
        while true {
            opStart = position
            guard position < end else {
                throw PickleError(offset: position, problem: "truncated: the pickle has no STOP opcode before the data ends at byte \(end)", isTruncation: true)
            }
            opcode = bytes[position]
            position += 1
            if opcode == Opcode.stop.rawValue {
                let item = try pop()
                var frozen = Freezer(limits: limits, opStart: opStart)
                let value = try frozen.freeze(item, depth: 0).value
                return PickleReader.Result(value: value, endOffset: position, protocolVersion: protocolVersion, storages: storages)
            }
            try execute()
        }
    }

    /// One opcode, by family (small functions keep each call's frame small, which matters
    /// in debug builds).
    func execute() throws {
        guard let op = Opcode(rawValue: opcode) else {
            throw fail("unknown pickle opcode 0x\(hex(opcode)) refused")
        }
        switch op {
        case .binPut, .longBinPut, .memoize, .binGet, .longBinGet, .put, .get:
            try memoOpcode(op)
        case .none, .newTrue, .newFalse, .binInt, .binInt1, .binInt2, .long1, .long4, .binFloat, .int, .long, .float:
            try push(try scalar(op))
        case .binUnicode, .shortBinUnicode, .binUnicode8, .binString, .shortBinString, .binBytes, .shortBinBytes,
             .binBytes8, .byteArray8, .string, .unicode:
            try push(try text(op))
        case .emptyDict, .emptyList, .emptyTuple, .emptySet, .tuple, .tuple1, .tuple2, .tuple3, .frozenSet, .list, .dict:
            try push(try container(op))
        case .append, .appends, .setItem, .setItems, .addItems:
            try fill(op)
        case .global, .stackGlobal, .binPersID, .persID, .reduce, .newObj, .newObjEx, .build:
            try objectOpcode(op)
        case .proto, .frame, .mark, .pop, .popMark, .dup:
            try control(op)
        case .inst, .obj, .ext1, .ext2, .ext4, .nextBuffer, .readonlyBuffer:
            throw refusal(op)
        case .stop:
            break  // handled by run()
        }
    }

    func control(_ op: Opcode) throws {
        switch op {
        case .proto:
            let version = Int(try byte())
            guard version <= 5 else { throw fail("unsupported pickle protocol \(version)") }
            protocolVersion = version
        case .frame:
            _ = try length(8)
        case .mark:
            guard marks.count < limits.stackDepth else { throw fail("more than \(limits.stackDepth) MARKs") }
            marks.append(stack.count)
        case .pop:
            if stack.count > (marks.last ?? 0) { stack.removeLast() } else if marks.popLast() == nil {
                throw fail("POP finds the stack empty")
            }
        case .popMark:
            _ = try popMark()
        default:  // .dup
            try push(try top())
        }
    }

    func scalar(_ op: Opcode) throws -> PickleValue {
        switch op {
        case .none: return .none
        case .newTrue: return .bool(true)
        case .newFalse: return .bool(false)
        case .binInt: return .int(Int64(Int32(truncatingIfNeeded: try unsigned(4))))
        case .binInt1: return .int(Int64(try unsigned(1)))
        case .binInt2: return .int(Int64(try unsigned(2)))
        case .long1: return integer(try take(try length(1)))
        case .long4: return integer(try take(try length(4, signed: true)))
        case .binFloat:
            let raw = try unsigned(8).byteSwapped  // BINFLOAT is big-endian
            return .float(Double(bitPattern: raw))
        case .int: return try textInteger(try line(), isLong: false)
        case .long: return try textInteger(try line(), isLong: true)
        default:  // .float
            let text = String(decoding: try line(), as: UTF8.self)
            guard let value = Double(text.trimmingSpaces) else { throw fail("FLOAT argument '\(text.prefix(40))' is not a number") }
            return .float(value)
        }
    }

    func text(_ op: Opcode) throws -> PickleValue {
        switch op {
        case .binUnicode: return .string(String(decoding: try take(try length(4)), as: UTF8.self))
        case .shortBinUnicode: return .string(String(decoding: try take(try length(1)), as: UTF8.self))
        case .binUnicode8: return .string(String(decoding: try take(try length(8)), as: UTF8.self))
        case .binString: return python2String(Array(try take(try length(4, signed: true))))
        case .shortBinString: return python2String(Array(try take(try length(1))))
        case .binBytes: return .bytes(Array(try take(try length(4))))
        case .shortBinBytes: return .bytes(Array(try take(try length(1))))
        case .binBytes8, .byteArray8: return .bytes(Array(try take(try length(8))))
        case .string: return python2String(try escapedString(try line()))
        default: return .string(rawUnicodeEscape(try line()))  // .unicode
        }
    }

    func container(_ op: Opcode) throws -> Item {
        switch op {
        case .emptyDict: return .node(newNode(.dict(ordered: false)))
        case .emptyList: return .node(newNode(.list))
        case .emptyTuple: return .node(newNode(.tuple))
        case .emptySet: return .node(newNode(.set(frozen: false)))
        case .tuple: return tuple(try popMark())
        case .tuple1: return tuple([try pop()])
        case .tuple2:
            let b = try pop()
            return tuple([try pop(), b])
        case .tuple3:
            let c = try pop(), b = try pop()
            return tuple([try pop(), b, c])
        case .frozenSet, .list:
            let node = newNode(op == .list ? .list : .set(frozen: true))
            node.items = try popMark()
            return .node(node)
        default:  // .dict
            let items = try popMark()
            let node = newNode(.dict(ordered: false))
            try setItems(node, items)
            return .node(node)
        }
    }

    func fill(_ op: Opcode) throws {
        switch op {
        case .append:
            let value = try pop()
            try append(to: try top(), [value])
        case .appends:
            let values = try popMark()
            try append(to: try top(), values)
        case .setItem:
            let value = try pop(), key = try pop()
            try setItems(try target(forItems: try top()), [key, value])
        case .setItems:
            let items = try popMark()
            try setItems(try target(forItems: try top()), items)
        default:  // .addItems
            let items = try popMark()
            guard case .node(let node) = try top(), case .set(frozen: false) = node.kind else {
                throw fail("ADDITEMS to something that is not a set")
            }
            node.items.append(contentsOf: items)
        }
    }

    func memoOpcode(_ op: Opcode) throws {
        switch op {
        case .binPut: try memoize(Int(try unsigned(1)))
        case .longBinPut: try memoize(Int(try unsigned(4)))
        case .memoize: try memoize(memoCount)
        case .binGet: try push(try recall(Int(try unsigned(1))))
        case .longBinGet: try push(try recall(Int(try unsigned(4))))
        case .put: try memoize(try decimalIndex(try line()))
        default: try push(try recall(try decimalIndex(try line())))  // .get
        }
    }

    func objectOpcode(_ op: Opcode) throws {
        switch op {
        case .global:
            let module = String(decoding: try line(), as: UTF8.self)
            let name = String(decoding: try line(), as: UTF8.self)
            try push(Unpickler.global(module, name))
        case .stackGlobal:
            let name = try pop(), module = try pop()
            guard case .leaf(.string(let n)) = name, case .leaf(.string(let m)) = module else {
                throw fail("STACK_GLOBAL needs two strings on the stack")
            }
            try push(Unpickler.global(m, n))
        case .binPersID:
            try push(try persistentID(try pop()))
        case .persID:
            try push(try persistentID(.leaf(.string(String(decoding: try line(), as: UTF8.self)))))
        case .reduce:
            let args = try pop(), callable = try pop()
            try push(try construct(callable, args, kwargs: nil, .reduce))
        case .newObj:
            let args = try pop(), cls = try pop()
            try push(try construct(cls, args, kwargs: nil, .newObject))
        case .newObjEx:
            let kwargs = try pop(), args = try pop(), cls = try pop()
            try push(try construct(cls, args, kwargs: kwargs, .newObject))
        default:  // .build
            let state = try pop()
            try build(try top(), state)
        }
    }

    func refusal(_ op: Opcode) -> PickleError {
        switch op {
        case .inst, .obj:
            return PickleError(offset: opStart, problem: "unsafe opcode \(op.name) (0x\(hex(opcode))) refused: it would import and call a class in one step", isUnsafe: true)
        case .ext1, .ext2, .ext4:
            return PickleError(offset: opStart, problem: "unsafe opcode \(op.name) (0x\(hex(opcode))) refused: it would import a class named through the copyreg extension registry", isUnsafe: true)
        default:
            return fail("unsupported opcode \(op.name) (0x\(hex(opcode))): out-of-band buffers are not part of a saved file")
        }
    }

    // MARK: Opcode helpers

    func tuple(_ items: [Item]) -> Item {
        let node = newNode(.tuple)
        node.items = items
        return .node(node)
    }

    /// The list or object that APPEND/APPENDS add to.
    func append(to item: Item, _ values: [Item]) throws {
        guard case .node(let node) = item else { throw fail("\(opName) to \(describe(item))") }
        switch node.kind {
        case .list, .object: node.items.append(contentsOf: values)
        case .set(frozen: false): node.items.append(contentsOf: values)  // set.add via APPEND is not written by Python, but is harmless
        default: throw fail("\(opName) to \(describe(item))")
        }
    }

    func target(forItems item: Item) throws -> Node {
        guard case .node(let node) = item else { throw fail("\(opName) on \(describe(item))") }
        switch node.kind {
        case .dict, .object: return node
        default: throw fail("\(opName) on \(describe(item))")
        }
    }

    func setItems(_ node: Node, _ items: [Item]) throws {
        guard items.count % 2 == 0 else { throw fail("\(opName) with an odd number (\(items.count)) of keys and values") }
        for i in stride(from: 0, to: items.count, by: 2) {
            node.setItem(items[i], items[i + 1])
        }
    }

    func build(_ item: Item, _ state: Item) throws {
        switch item {
        case .node(let node):
            switch node.kind {
            case .object, .dict: node.state = state
            default: throw fail("BUILD on \(describe(item))")
            }
        case .leaf(.tensor):
            // A tensor subclass's extra state (torch writes it inside _rebuild_from_type_v2
            // instead); the elements are unaffected.
            break
        case .leaf:
            throw fail("BUILD on \(describe(item))")
        }
    }

    func describe(_ item: Item) -> String {
        switch item {
        case .leaf(let value):
            switch value {
            case .none: return "None"
            case .bool: return "a bool"
            case .int, .bigInt: return "an int"
            case .float: return "a float"
            case .string: return "a string"
            case .bytes: return "bytes"
            case .global(let m, let n): return "the global \(m).\(n)"
            case .tensor: return "a tensor"
            case .storage: return "a storage"
            default: return "a value"
            }
        case .node(let node):
            switch node.kind {
            case .list: return "a list"
            case .tuple: return "a tuple"
            case .dict: return "a dict"
            case .set: return "a set"
            case .object: return "an object"
            case .persistentID: return "a persistent id"
            }
        }
    }

    /// LONG1/LONG4 payload: little-endian two's complement.
    func integer(_ raw: UnsafeRawBufferPointer) -> PickleValue {
        if raw.isEmpty { return .int(0) }
        let negative = raw[raw.count - 1] & 0x80 != 0
        let fill: UInt8 = negative ? 0xFF : 0x00
        // Fits in 64 bits when every byte past the eighth repeats the sign and the eighth
        // byte's top bit agrees with it.
        var fits = true
        if raw.count > 8 {
            for i in 8..<raw.count where raw[i] != fill { fits = false; break }
            if fits && (raw[7] & 0x80 != 0) != negative { fits = false }
        }
        guard fits else { return .bigInt(PickleBigInt(littleEndianBytes: Array(raw))) }
        var value: UInt64 = negative ? ~0 : 0
        for i in 0..<min(8, raw.count) {
            value &= ~(UInt64(0xFF) << (8 * UInt64(i)))
            value |= UInt64(raw[i]) << (8 * UInt64(i))
        }
        return .int(Int64(bitPattern: value))
    }

    /// Python 2 `str` (BINSTRING, SHORT_BINSTRING, STRING): torch.load decodes it as UTF-8,
    /// so it is a string when it is valid UTF-8, and bytes otherwise.
    func python2String(_ raw: [UInt8]) -> PickleValue {
        let s = String(decoding: raw, as: UTF8.self)
        return s.utf8.elementsEqual(raw) ? .string(s) : .bytes(raw)
    }

    func decimalIndex(_ text: [UInt8]) throws -> Int {
        guard let value = Int(String(decoding: text, as: UTF8.self).trimmingSpaces), value >= 0 else {
            throw fail("\(opName) argument '\(String(decoding: text.prefix(40), as: UTF8.self))' is not a memo index")
        }
        return value
    }

    /// INT ("01"/"00" for True/False in protocol 0) and LONG ("123L").
    func textInteger(_ text: [UInt8], isLong: Bool) throws -> PickleValue {
        var s = String(decoding: text, as: UTF8.self).trimmingSpaces
        if !isLong && s == "01" { return .bool(true) }
        if !isLong && s == "00" { return .bool(false) }
        if s.hasSuffix("L") { s.removeLast() }
        if let value = Int64(s) { return .int(value) }
        // Too large for 64 bits: convert the decimal digits to two's complement bytes.
        var digits = Substring(s)
        let negative = digits.hasPrefix("-")
        if negative || digits.hasPrefix("+") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.count <= 100_000 else {
            throw fail("\(opName) argument '\(s.prefix(40))' is not an integer")
        }
        var magnitude: [UInt8] = [0]  // little-endian
        for digit in digits.utf8 {
            var carry = Int(digit - 0x30)
            for i in magnitude.indices {
                let v = Int(magnitude[i]) * 10 + carry
                magnitude[i] = UInt8(v & 0xFF)
                carry = v >> 8
            }
            while carry > 0 { magnitude.append(UInt8(carry & 0xFF)); carry >>= 8 }
        }
        magnitude.append(0)  // room for the sign bit
        if negative {
            var carry = 1
            for i in magnitude.indices {
                let v = Int(~magnitude[i]) + carry
                magnitude[i] = UInt8(v & 0xFF)
                carry = v >> 8
            }
        }
        return .bigInt(PickleBigInt(littleEndianBytes: magnitude))
    }

    /// STRING's argument: a quoted Python 2 string literal with backslash escapes.
    func escapedString(_ text: [UInt8]) throws -> [UInt8] {
        guard text.count >= 2, let quote = text.first, quote == 0x27 || quote == 0x22, text.last == quote else {
            throw fail("STRING argument is not a quoted string")
        }
        let body = text[1..<(text.count - 1)]
        var out: [UInt8] = []
        var i = body.startIndex
        func hexValue(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        while i < body.endIndex {
            let c = body[i]
            i += 1
            guard c == 0x5C, i < body.endIndex else { out.append(c); continue }
            let e = body[i]
            i += 1
            switch e {
            case 0x6E: out.append(0x0A)  // \n
            case 0x74: out.append(0x09)  // \t
            case 0x72: out.append(0x0D)  // \r
            case 0x61: out.append(0x07)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x76: out.append(0x0B)
            case 0x5C, 0x27, 0x22: out.append(e)
            case 0x0A: break  // line continuation
            case 0x78:  // \xhh
                guard i + 1 < body.endIndex, let h = hexValue(body[i]), let l = hexValue(body[i + 1]) else {
                    throw fail("STRING has a bad \\x escape")
                }
                out.append(h << 4 | l)
                i += 2
            case 0x30...0x37:  // up to three octal digits
                var value = Int(e - 0x30)
                var n = 1
                while n < 3, i < body.endIndex, (0x30...0x37).contains(body[i]) {
                    value = value * 8 + Int(body[i] - 0x30)
                    i += 1
                    n += 1
                }
                out.append(UInt8(value & 0xFF))
            default:
                out.append(0x5C)
                out.append(e)
            }
        }
        return out
    }

    /// UNICODE's argument: Latin-1 text in which `\uXXXX` and `\UXXXXXXXX` are escapes.
    func rawUnicodeEscape(_ text: [UInt8]) -> String {
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < text.count {
            let c = text[i]
            if c == 0x5C, i + 1 < text.count, text[i + 1] == 0x75 || text[i + 1] == 0x55 {
                let digits = text[i + 1] == 0x75 ? 4 : 8
                if i + 2 + digits <= text.count,
                   let value = UInt32(String(decoding: text[(i + 2)..<(i + 2 + digits)], as: UTF8.self), radix: 16),
                   let scalar = Unicode.Scalar(value) {
                    scalars.append(scalar)
                    i += 2 + digits
                    continue
                }
            }
            scalars.append(Unicode.Scalar(c))
            i += 1
        }
        return String(scalars)
    }

    static func global(_ module: String, _ name: String) -> PickleValue {
        // Protocol 2 pickles written by Python 3 use the Python 2 names.
        let mapped: String
        switch module {
        case "__builtin__", "exceptions": mapped = "builtins"
        case "copy_reg": mapped = "copyreg"
        default: mapped = module
        }
        return .global(module: mapped, name: name)
    }

    /// BINPERSID/PERSID: a torch storage when the id is `('storage', type, key, location,
    /// numel[, view_metadata])`, an inert record otherwise.
    func persistentID(_ id: Item) throws -> Item {
        guard case .node(let node) = id, case .tuple = node.kind, let first = node.items.first,
              case .leaf(.string("storage")) = first else {
            let wrapper = newNode(.persistentID)
            wrapper.args = id
            return .node(wrapper)
        }
        let parts = node.items
        guard parts.count == 5 || parts.count == 6 else {
            throw fail("storage persistent id has \(parts.count) fields, expected 5 (zip) or 6 (legacy)")
        }
        guard case .leaf(.global(_, let typeName)) = parts[1] else {
            throw fail("storage persistent id names its type with \(describe(parts[1])), expected a global such as torch.FloatStorage")
        }
        guard let key = keyString(parts[2]) else { throw fail("storage persistent id has \(describe(parts[2])) as its key") }
        let location: String
        if case .leaf(.string(let l)) = parts[3] { location = l } else { location = "" }
        guard case .leaf(.int(let numel)) = parts[4], numel >= 0, let count = Int(exactly: numel) else {
            throw fail("storage persistent id for '\(key)' has \(describe(parts[4])) as its element count")
        }
        var view: TorchStorageReference.View? = nil
        if parts.count == 6, case .node(let viewNode) = parts[5] {
            guard case .tuple = viewNode.kind, viewNode.items.count == 3, let viewKey = keyString(viewNode.items[0]),
                  case .leaf(.int(let offset)) = viewNode.items[1], case .leaf(.int(let size)) = viewNode.items[2],
                  offset >= 0, size >= 0, let o = Int(exactly: offset), let s = Int(exactly: size) else {
                throw fail("storage persistent id for '\(key)' has malformed view metadata")
            }
            view = TorchStorageReference.View(viewKey: viewKey, offset: o, count: s)
        }
        let storage = TorchStorageReference(typeName: typeName, key: key, location: location, elementCount: count, view: view)
        storages.append(storage)
        return .leaf(.storage(storage))
    }

    func keyString(_ item: Item) -> String? {
        switch item {
        case .leaf(.string(let s)): return s
        case .leaf(.int(let i)): return String(i)
        default: return nil
        }
    }

    // MARK: REDUCE / NEWOBJ

    func construct(_ callable: Item, _ args: Item, kwargs: Item?, _ construction: PickleObject.Construction) throws -> Item {
        guard case .node(let argNode) = args, case .tuple = argNode.kind else {
            throw fail("\(opName) needs an argument tuple, found \(describe(args))")
        }
        if case .leaf(.global(let module, let name)) = callable,
           let interpreted = try interpret(module, name, argNode.items, construction) {
            return interpreted
        }
        let node = newNode(.object(construction))
        node.callable = callable
        node.args = args
        node.kwargs = kwargs
        return .node(node)
    }

    /// The callables whose result is plain data; nil for everything else (left inert).
    func interpret(_ module: String, _ name: String, _ args: [Item], _ construction: PickleObject.Construction) throws -> Item? {
        switch (module, name) {
        case ("collections", "OrderedDict"):
            let node = newNode(.dict(ordered: true))
            if construction == .reduce, let source = args.first, case .node(let items) = source {
                switch items.kind {
                case .dict(_):
                    for i in 0..<min(items.keys.count, items.values.count) { node.setItem(items.keys[i], items.values[i]) }
                case .list, .tuple:
                    for pair in items.items {
                        guard case .node(let p) = pair, p.items.count == 2 else { throw fail("OrderedDict given an item that is not a pair") }
                        node.setItem(p.items[0], p.items[1])
                    }
                default: break
                }
            }
            return .node(node)
        case ("builtins", "set"), ("builtins", "frozenset"):
            let node = newNode(.set(frozen: name == "frozenset"))
            if construction == .reduce, let source = args.first, case .node(let items) = source {
                switch items.kind {
                case .list, .tuple, .set: node.items = items.items
                case .dict: node.items = items.keys
                default: break
                }
            }
            return .node(node)
        case ("builtins", "bytearray"):
            guard construction == .reduce, let first = args.first else { return .leaf(.bytes([])) }
            switch first {
            case .leaf(.bytes(let b)): return .leaf(.bytes(b))
            case .leaf(.string(let s)):
                return .leaf(.bytes(try encode(s, args.count > 1 ? args[1] : .leaf(.string("latin1")))))
            default: return nil
            }
        case ("_codecs", "encode"):
            guard construction == .reduce, let first = args.first, case .leaf(.string(let s)) = first else { return nil }
            return .leaf(.bytes(try encode(s, args.count > 1 ? args[1] : .leaf(.string("utf-8")))))
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v3"):
            return .leaf(.tensor(try rebuildTensor(name, args)))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = args.first, case .leaf(.tensor(let t)) = data else {
                throw fail("torch._utils.\(name) is given \(args.first.map(describe) ?? "nothing") instead of a tensor")
            }
            var requiresGrad = t.requiresGrad
            if args.count > 1, case .leaf(.bool(let b)) = args[1] { requiresGrad = b }
            return .leaf(.tensor(TorchTensorReference(storage: t.storage, storageOffset: t.storageOffset, shape: t.shape,
                                                      strides: t.strides, requiresGrad: requiresGrad, dtypeName: t.dtypeName)))
        case ("torch._tensor", "_rebuild_from_type_v2"):
            // (func, new_type, args, state): the tensor is func(*args); the subclass type and
            // its state do not change the elements.
            guard args.count >= 3, case .leaf(.global(let m, let n)) = args[0], case .node(let inner) = args[2],
                  case .tuple = inner.kind else { return nil }
            return try interpret(m, n, inner.items, .reduce)
        default:
            return nil
        }
    }

    func encode(_ s: String, _ encoding: Item) throws -> [UInt8] {
        guard case .leaf(.string(let name)) = encoding else { throw fail("_codecs.encode with a non-string encoding") }
        switch name.lowercased().replacingOccurrences(of: "_", with: "-") {
        case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1":
            var out: [UInt8] = []
            out.reserveCapacity(s.unicodeScalars.count)
            for scalar in s.unicodeScalars {
                guard scalar.value < 256 else { throw fail("_codecs.encode: '\(scalar)' is not Latin-1") }
                out.append(UInt8(scalar.value))
            }
            return out
        case "utf-8", "utf8":
            return Array(s.utf8)
        case "ascii":
            guard s.unicodeScalars.allSatisfy({ $0.isASCII }) else { throw fail("_codecs.encode: the string is not ASCII") }
            return Array(s.utf8)
        default:
            throw fail("_codecs.encode with unsupported encoding '\(name.prefix(40))'")
        }
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata])`,
    /// `_rebuild_tensor(storage, storage_offset, size, stride)` and
    /// `_rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, hooks, dtype[, metadata])`.
    func rebuildTensor(_ name: String, _ args: [Item]) throws -> TorchTensorReference {
        func bad(_ what: String) -> PickleError { fail("torch._utils.\(name): \(what)") }
        guard args.count >= 4 else { throw bad("\(args.count) arguments, expected at least 4") }
        guard case .leaf(.storage(let storage)) = args[0] else { throw bad("the storage argument is \(describe(args[0]))") }
        guard case .leaf(.int(let offset)) = args[1], offset >= 0, let storageOffset = Int(exactly: offset) else {
            throw bad("the storage offset is \(describe(args[1]))")
        }
        func ints(_ item: Item, _ what: String) throws -> [Int] {
            guard case .node(let node) = item else { throw bad("the \(what) is \(describe(item))") }
            switch node.kind {
            case .tuple, .list: break
            default: throw bad("the \(what) is \(describe(item))")
            }
            return try node.items.map {
                guard case .leaf(.int(let v)) = $0, v >= 0, let i = Int(exactly: v) else { throw bad("the \(what) holds \(describe($0))") }
                return i
            }
        }
        let shape = try ints(args[2], "size")
        let strides = try ints(args[3], "stride")
        guard shape.count == strides.count else { throw bad("size \(shape) and stride \(strides) differ in length") }
        var requiresGrad = false
        if args.count > 4, case .leaf(.bool(let b)) = args[4] { requiresGrad = b }
        var dtype: String? = nil
        if name == "_rebuild_tensor_v3" {
            guard args.count > 6, case .leaf(.global(_, let dtypeName)) = args[6] else {
                throw bad("no dtype (argument 7) for the untyped storage")
            }
            dtype = dtypeName
        }
        return TorchTensorReference(storage: storage, storageOffset: storageOffset, shape: shape, strides: strides,
                                    requiresGrad: requiresGrad, dtypeName: dtype)
    }
}

private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\r" || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\r" || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}

// MARK: - Freezing into the immutable tree

private struct Freezer {
    struct Frozen {
        let value: PickleValue
        let height: Int
        let size: Int
    }

    let limits: PickleReader.Limits
    let opStart: Int
    var cache: [ObjectIdentifier: Frozen] = [:]
    var inProgress: Set<ObjectIdentifier> = []

    init(limits: PickleReader.Limits, opStart: Int) {
        self.limits = limits
        self.opStart = opStart
    }

    func tooDeep() -> PickleError {
        PickleError(offset: opStart, problem: "the pickled value nests containers more than \(limits.nesting) deep")
    }

    mutating func freeze(_ item: Item, depth: Int) throws -> Frozen {
        guard depth < limits.nesting else { throw tooDeep() }
        let node: Node
        switch item {
        case .leaf(let value): return Frozen(value: value, height: 1, size: 1)
        case .node(let n): node = n
        }
        let id = ObjectIdentifier(node)
        if let done = cache[id] {
            guard depth + done.height <= limits.nesting else { throw tooDeep() }
            return done
        }
        if inProgress.contains(id) { return Frozen(value: .cycle, height: 1, size: 1) }
        inProgress.insert(id)
        defer { inProgress.remove(id) }

        var height = 1, size = 1
        func add(_ f: Frozen) throws -> PickleValue {
            height = max(height, f.height + 1)
            let (sum, overflow) = size.addingReportingOverflow(f.size)
            guard !overflow, sum <= limits.expandedValues else {
                throw PickleError(offset: opStart, problem: "the pickled value would expand to more than \(limits.expandedValues) values (shared references repeated)")
            }
            size = sum
            return f.value
        }
        func all(_ items: [Item]) throws -> [PickleValue] {
            var out: [PickleValue] = []
            out.reserveCapacity(items.count)
            for item in items { out.append(try add(try freeze(item, depth: depth + 1))) }
            return out
        }
        func entries(_ node: Node) throws -> [PickleDict.Entry] {
            var out: [PickleDict.Entry] = []
            out.reserveCapacity(node.keys.count)
            for i in 0..<min(node.keys.count, node.values.count) {
                let key = try add(try freeze(node.keys[i], depth: depth + 1))
                out.append(PickleDict.Entry(key: key, value: try add(try freeze(node.values[i], depth: depth + 1))))
            }
            return out
        }
        func optional(_ item: Item?) throws -> PickleValue? {
            guard let item else { return nil }
            return try add(try freeze(item, depth: depth + 1))
        }

        let value: PickleValue
        switch node.kind {
        case .list: value = .list(try all(node.items))
        case .tuple: value = .tuple(try all(node.items))
        case .set(let frozen): value = .set(try all(node.items), frozen: frozen)
        case .dict(let ordered):
            value = .dict(PickleDict(entries: try entries(node), ordered: ordered, attributes: try optional(node.state)))
        case .persistentID:
            value = .persistentID(try optional(node.args) ?? .none)
        case .object(let construction):
            value = .object(PickleObject(construction: construction, callable: try optional(node.callable) ?? .none,
                                         args: try optional(node.args) ?? .tuple([]), kwargs: try optional(node.kwargs),
                                         state: try optional(node.state), listItems: try all(node.items),
                                         dictItems: try entries(node)))
        }
        let frozen = Frozen(value: value, height: height, size: size)
        cache[id] = frozen
        return frozen
    }
}

// MARK: - Opcode table

/// The pickle opcodes this reader knows by name (including the ones it refuses).
enum Opcode: UInt8 {
    case mark = 0x28
    case stop = 0x2E
    case pop = 0x30
    case popMark = 0x31
    case dup = 0x32
    case float = 0x46
    case int = 0x49
    case binInt = 0x4A
    case binInt1 = 0x4B
    case long = 0x4C
    case binInt2 = 0x4D
    case none = 0x4E
    case persID = 0x50
    case binPersID = 0x51
    case reduce = 0x52
    case string = 0x53
    case binString = 0x54
    case shortBinString = 0x55
    case unicode = 0x56
    case binUnicode = 0x58
    case append = 0x61
    case build = 0x62
    case global = 0x63
    case dict = 0x64
    case emptyDict = 0x7D
    case appends = 0x65
    case get = 0x67
    case binGet = 0x68
    case inst = 0x69
    case longBinGet = 0x6A
    case list = 0x6C
    case emptyList = 0x5D
    case obj = 0x6F
    case put = 0x70
    case binPut = 0x71
    case longBinPut = 0x72
    case setItem = 0x73
    case tuple = 0x74
    case emptyTuple = 0x29
    case setItems = 0x75
    case binFloat = 0x47
    case proto = 0x80
    case newObj = 0x81
    case ext1 = 0x82
    case ext2 = 0x83
    case ext4 = 0x84
    case tuple1 = 0x85
    case tuple2 = 0x86
    case tuple3 = 0x87
    case newTrue = 0x88
    case newFalse = 0x89
    case long1 = 0x8A
    case long4 = 0x8B
    case binBytes = 0x42
    case shortBinBytes = 0x43
    case shortBinUnicode = 0x8C
    case binUnicode8 = 0x8D
    case binBytes8 = 0x8E
    case emptySet = 0x8F
    case addItems = 0x90
    case frozenSet = 0x91
    case newObjEx = 0x92
    case stackGlobal = 0x93
    case memoize = 0x94
    case frame = 0x95
    case byteArray8 = 0x96
    case nextBuffer = 0x97
    case readonlyBuffer = 0x98

    /// The name pickletools uses.
    var name: String {
        switch self {
        case .mark: return "MARK"
        case .stop: return "STOP"
        case .pop: return "POP"
        case .popMark: return "POP_MARK"
        case .dup: return "DUP"
        case .float: return "FLOAT"
        case .int: return "INT"
        case .binInt: return "BININT"
        case .binInt1: return "BININT1"
        case .long: return "LONG"
        case .binInt2: return "BININT2"
        case .none: return "NONE"
        case .persID: return "PERSID"
        case .binPersID: return "BINPERSID"
        case .reduce: return "REDUCE"
        case .string: return "STRING"
        case .binString: return "BINSTRING"
        case .shortBinString: return "SHORT_BINSTRING"
        case .unicode: return "UNICODE"
        case .binUnicode: return "BINUNICODE"
        case .append: return "APPEND"
        case .build: return "BUILD"
        case .global: return "GLOBAL"
        case .dict: return "DICT"
        case .emptyDict: return "EMPTY_DICT"
        case .appends: return "APPENDS"
        case .get: return "GET"
        case .binGet: return "BINGET"
        case .inst: return "INST"
        case .longBinGet: return "LONG_BINGET"
        case .list: return "LIST"
        case .emptyList: return "EMPTY_LIST"
        case .obj: return "OBJ"
        case .put: return "PUT"
        case .binPut: return "BINPUT"
        case .longBinPut: return "LONG_BINPUT"
        case .setItem: return "SETITEM"
        case .tuple: return "TUPLE"
        case .emptyTuple: return "EMPTY_TUPLE"
        case .setItems: return "SETITEMS"
        case .binFloat: return "BINFLOAT"
        case .proto: return "PROTO"
        case .newObj: return "NEWOBJ"
        case .ext1: return "EXT1"
        case .ext2: return "EXT2"
        case .ext4: return "EXT4"
        case .tuple1: return "TUPLE1"
        case .tuple2: return "TUPLE2"
        case .tuple3: return "TUPLE3"
        case .newTrue: return "NEWTRUE"
        case .newFalse: return "NEWFALSE"
        case .long1: return "LONG1"
        case .long4: return "LONG4"
        case .binBytes: return "BINBYTES"
        case .shortBinBytes: return "SHORT_BINBYTES"
        case .shortBinUnicode: return "SHORT_BINUNICODE"
        case .binUnicode8: return "BINUNICODE8"
        case .binBytes8: return "BINBYTES8"
        case .emptySet: return "EMPTY_SET"
        case .addItems: return "ADDITEMS"
        case .frozenSet: return "FROZENSET"
        case .newObjEx: return "NEWOBJ_EX"
        case .stackGlobal: return "STACK_GLOBAL"
        case .memoize: return "MEMOIZE"
        case .frame: return "FRAME"
        case .byteArray8: return "BYTEARRAY8"
        case .nextBuffer: return "NEXT_BUFFER"
        case .readonlyBuffer: return "READONLY_BUFFER"
        }
    }

    static func name(_ byte: UInt8) -> String { Opcode(rawValue: byte)?.name ?? "opcode 0x\(hex(byte))" }
}
