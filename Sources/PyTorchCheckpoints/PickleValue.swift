import SpeechCheckpoints

/// One value read from a Python pickle by ``PickleReader``: plain data, or an inert record of
/// what the pickle would have imported or called. Nothing in this tree was ever executed.
///
/// The tree is immutable and acyclic. Where the pickle referred back to an object that
/// encloses the reference (OmegaConf nodes point at their parent container, for example),
/// the tree holds ``cycle`` instead of expanding it again.
public indirect enum PickleValue: Sendable, Equatable, CustomStringConvertible {
    case none
    case bool(Bool)
    /// Any integer that fits in 64 bits (BININT*, LONG1/LONG4 when small enough).
    case int(Int64)
    /// An integer too large for 64 bits (the legacy torch magic number, for one).
    case bigInt(PickleBigInt)
    case float(Double)
    case string(String)
    /// Python `bytes` and `bytearray` (including protocol 2's `_codecs.encode(str, 'latin1')`).
    case bytes([UInt8])
    case list([PickleValue])
    case tuple([PickleValue])
    /// A `dict` or `collections.OrderedDict`, items in pickle order.
    case dict(PickleDict)
    /// A `set` or `frozenset`, items in pickle order.
    case set([PickleValue], frozen: Bool)
    /// A class or function the pickle names (GLOBAL/STACK_GLOBAL); never imported. Python 2
    /// module names are mapped to Python 3 (`__builtin__` → `builtins`, `copy_reg` → `copyreg`).
    case global(module: String, name: String)
    /// What REDUCE or NEWOBJ would have built, left as a record (see ``PickleObject``).
    case object(PickleObject)
    /// A persistent id that is not a torch storage (BINPERSID/PERSID).
    case persistentID(PickleValue)
    /// A torch storage named by a persistent id `('storage', type, key, location, numel[, view])`.
    case storage(TorchStorageReference)
    /// A tensor built by `torch._utils._rebuild_tensor_v2` and friends: where its elements are.
    case tensor(TorchTensorReference)
    /// A reference back to an object that encloses it (not expanded again).
    case cycle

    // MARK: Convenience accessors (nil when the value is of another kind)

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    /// An `int`, or a `bool` as 0/1 (Python's bool is an int).
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
    /// A `float`, or an `int` converted.
    public var doubleValue: Double? {
        switch self {
        case .float(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }
    /// Elements of a list or tuple.
    public var arrayValue: [PickleValue]? {
        switch self {
        case .list(let a), .tuple(let a): return a
        default: return nil
        }
    }
    public var dictValue: PickleDict? { if case .dict(let d) = self { return d }; return nil }
    public var objectValue: PickleObject? { if case .object(let o) = self { return o }; return nil }
    public var tensorValue: TorchTensorReference? { if case .tensor(let t) = self { return t }; return nil }
    public var bytesValue: [UInt8]? { if case .bytes(let b) = self { return b }; return nil }

    /// The value stored under a string key, for a dict.
    public subscript(key: String) -> PickleValue? { dictValue?[key] }

    /// A short rendering for messages (nested containers are abbreviated after a few levels).
    public var description: String { render(depth: 0) }

    func render(depth: Int) -> String {
        if depth > 4 { return "…" }
        func join(_ items: [PickleValue]) -> String {
            let shown = items.prefix(8).map { $0.render(depth: depth + 1) }
            return shown.joined(separator: ", ") + (items.count > 8 ? ", … (\(items.count) items)" : "")
        }
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .bigInt(let b): return b.description
        case .float(let d): return String(d)
        case .string(let s): return "'" + (s.count > 80 ? String(s.prefix(80)) + "…" : s) + "'"
        case .bytes(let b): return "b<\(b.count) bytes>"
        case .list(let a): return "[" + join(a) + "]"
        case .tuple(let a): return "(" + join(a) + (a.count == 1 ? ",)" : ")")
        case .dict(let d):
            let shown = d.entries.prefix(8).map { "\($0.key.render(depth: depth + 1)): \($0.value.render(depth: depth + 1))" }
            return "{" + shown.joined(separator: ", ") + (d.entries.count > 8 ? ", … (\(d.entries.count) items)" : "") + "}"
        case .set(let a, let frozen): return (frozen ? "frozenset({" : "{") + join(a) + (frozen ? "})" : "}")
        case .global(let module, let name): return "\(module).\(name)"
        case .object(let o): return "\(o.callable.render(depth: depth + 1))(\(o.args.render(depth: depth + 1)))"
        case .persistentID(let v): return "persistent_id(\(v.render(depth: depth + 1)))"
        case .storage(let s): return "\(s.typeName)(key '\(s.key)', \(s.elementCount) elements)"
        case .tensor(let t): return "tensor(\(t.storage.typeName) '\(t.storage.key)', offset \(t.storageOffset), size \(t.shape), stride \(t.strides))"
        case .cycle: return "<cycle>"
        }
    }
}

/// A pickled `dict` or `collections.OrderedDict`.
public struct PickleDict: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let key: PickleValue
        public let value: PickleValue
        public init(key: PickleValue, value: PickleValue) {
            self.key = key
            self.value = value
        }
    }

    /// Items in the order the pickle set them (a later SETITEM of an equal key replaces the
    /// value in place, as Python does).
    public let entries: [Entry]
    /// True for a `collections.OrderedDict`.
    public let ordered: Bool
    /// Instance state given by BUILD (an OrderedDict's `_metadata` in a state_dict). This is
    /// not part of the items.
    public let attributes: PickleValue?

    public init(entries: [Entry], ordered: Bool = false, attributes: PickleValue? = nil) {
        self.entries = entries
        self.ordered = ordered
        self.attributes = attributes
    }

    /// The value under a string key.
    public subscript(key: String) -> PickleValue? {
        for entry in entries { if case .string(let k) = entry.key, k == key { return entry.value } }
        return nil
    }

    /// The string keys, in order (other keys are left out).
    public var stringKeys: [String] { entries.compactMap { $0.key.stringValue } }
}

/// What a REDUCE or NEWOBJ would have built, never built: the callable (usually a
/// ``PickleValue/global(module:name:)``), its arguments, and whatever BUILD, APPEND and
/// SETITEM later did to the result.
public struct PickleObject: Sendable, Equatable {
    public enum Construction: String, Sendable {
        /// REDUCE: `callable(*args)`.
        case reduce
        /// NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args, **kwargs)`.
        case newObject
    }

    public let construction: Construction
    public let callable: PickleValue
    /// The argument tuple.
    public let args: PickleValue
    /// Keyword arguments (NEWOBJ_EX only).
    public let kwargs: PickleValue?
    /// The state BUILD passed to `__setstate__` (usually a dict of attributes).
    public let state: PickleValue?
    /// Items appended with APPEND/APPENDS (a list subclass).
    public let listItems: [PickleValue]
    /// Items set with SETITEM/SETITEMS (a dict subclass such as `defaultdict`).
    public let dictItems: [PickleDict.Entry]

    public init(construction: Construction, callable: PickleValue, args: PickleValue, kwargs: PickleValue? = nil,
                state: PickleValue? = nil, listItems: [PickleValue] = [], dictItems: [PickleDict.Entry] = []) {
        self.construction = construction
        self.callable = callable
        self.args = args
        self.kwargs = kwargs
        self.state = state
        self.listItems = listItems
        self.dictItems = dictItems
    }

    /// `(module, name)` of the callable when it is a global.
    public var typeName: (module: String, name: String)? {
        if case .global(let module, let name) = callable { return (module, name) }
        return nil
    }

    /// A string-keyed entry of the BUILD state, when the state is a dict (or a
    /// `(dict, slots)` pair, as Python writes for classes with `__slots__`).
    public func attribute(_ key: String) -> PickleValue? {
        guard let state else { return nil }
        if let value = state[key] { return value }
        if case .tuple(let pair) = state, pair.count == 2 {
            return pair[0][key] ?? pair[1][key]
        }
        return nil
    }
}

/// A Python integer too large for 64 bits, as pickled: little-endian two's complement bytes.
public struct PickleBigInt: Sendable, Equatable, CustomStringConvertible {
    public let littleEndianBytes: [UInt8]

    /// Stores the shortest two's complement form of the value (bytes that only repeat the
    /// sign are dropped), so equal numbers compare equal however they were written.
    public init(littleEndianBytes: [UInt8]) {
        var bytes = littleEndianBytes
        while bytes.count > 1, let last = bytes.last {
            let previousNegative = bytes[bytes.count - 2] & 0x80 != 0
            guard (last == 0x00 && !previousNegative) || (last == 0xFF && previousNegative) else { break }
            bytes.removeLast()
        }
        self.littleEndianBytes = bytes
    }

    public var isNegative: Bool { (littleEndianBytes.last ?? 0) & 0x80 != 0 }

    /// The value in decimal.
    public var description: String {
        // Magnitude as little-endian bytes (negate two's complement for negative numbers).
        var magnitude = littleEndianBytes
        if isNegative {
            var carry = 1
            for i in magnitude.indices {
                let v = Int(~magnitude[i]) + carry
                magnitude[i] = UInt8(v & 0xFF)
                carry = v >> 8
            }
        }
        // Repeated division by 10^9, most significant byte first.
        var digits: [String] = []
        var words = Array(magnitude.reversed())
        while words.contains(where: { $0 != 0 }) {
            var remainder = 0
            for i in words.indices {
                let current = remainder << 8 | Int(words[i])
                words[i] = UInt8(current / 1_000_000_000)
                remainder = current % 1_000_000_000
            }
            digits.append(String(remainder))
        }
        guard let first = digits.popLast() else { return "0" }
        let rest = digits.reversed().map { String(repeating: "0", count: 9 - $0.count) + $0 }
        return (isNegative ? "-" : "") + first + rest.joined()
    }
}

/// A torch storage as named by a persistent id in `data.pkl` (zip files) or the main pickle
/// (legacy files).
public struct TorchStorageReference: Sendable, Equatable {
    /// The storage class name, e.g. `FloatStorage`, `HalfStorage`, `UntypedStorage`.
    public let typeName: String
    /// The element type, or nil for a storage type this reader does not know (complex,
    /// quantized); tensors on such storages cannot be read.
    public let dataType: CheckpointDataType?
    /// Key of the storage record: `data/<key>` in a zip file, an entry of the key list in a
    /// legacy file.
    public let key: String
    /// Device the storage was saved from ('cpu', 'cuda:0', …); ignored when reading.
    public let location: String
    /// Elements in the storage, as the pickle says (bytes for `UntypedStorage`).
    public let elementCount: Int
    /// Legacy files only: this storage is a view of `key`'s storage, `count` elements from
    /// element `offset`, known under its own key `viewKey`.
    public let view: View?

    public struct View: Sendable, Equatable {
        public let viewKey: String
        public let offset: Int
        public let count: Int
    }

    public init(typeName: String, key: String, location: String, elementCount: Int, view: View? = nil) {
        self.typeName = typeName
        self.dataType = TorchStorageReference.dataType(forStorageType: typeName)
        self.key = key
        self.location = location
        self.elementCount = elementCount
        self.view = view
    }

    /// Storage class name → element type. `UntypedStorage` holds bytes.
    public static func dataType(forStorageType name: String) -> CheckpointDataType? {
        switch name {
        case "FloatStorage": return .float32
        case "HalfStorage": return .float16
        case "DoubleStorage": return .float64
        case "BFloat16Storage": return .bfloat16
        case "LongStorage": return .int64
        case "IntStorage": return .int32
        case "ShortStorage": return .int16
        case "CharStorage": return .int8
        case "ByteStorage", "UntypedStorage": return .uint8
        case "BoolStorage": return .bool
        default: return nil
        }
    }
}

/// Where a pickled tensor's elements are: a storage, and an offset, sizes and strides in
/// elements (a tensor may be a strided view, a transpose for example).
public struct TorchTensorReference: Sendable, Equatable {
    public let storage: TorchStorageReference
    public let storageOffset: Int
    public let shape: [Int]
    public let strides: [Int]
    public let requiresGrad: Bool
    /// The dtype named by `_rebuild_tensor_v3` (torch ≥ 2.1 writes it, on an `UntypedStorage`,
    /// for dtypes without a storage class of their own, such as uint16 or float8), e.g. "uint16";
    /// nil when the storage type gives the dtype.
    public let dtypeName: String?

    public init(storage: TorchStorageReference, storageOffset: Int, shape: [Int], strides: [Int], requiresGrad: Bool = false,
                dtypeName: String? = nil) {
        self.storage = storage
        self.storageOffset = storageOffset
        self.shape = shape
        self.strides = strides
        self.requiresGrad = requiresGrad
        self.dtypeName = dtypeName
    }

    /// The element type: the dtype's when one is named, else the storage type's; nil when
    /// this reader has no such type.
    public var dataType: CheckpointDataType? {
        guard let dtypeName else { return storage.dataType }
        return TorchTensorReference.dataType(forDtype: dtypeName)
    }

    /// torch dtype name (`torch.float32` is pickled as the global `torch float32`) → element type.
    public static func dataType(forDtype name: String) -> CheckpointDataType? {
        switch name {
        case "float32", "float": return .float32
        case "float16", "half": return .float16
        case "bfloat16": return .bfloat16
        case "float64", "double": return .float64
        case "int8": return .int8
        case "uint8": return .uint8
        case "int16", "short": return .int16
        case "int32", "int": return .int32
        case "int64", "long": return .int64
        case "bool": return .bool
        default: return nil
        }
    }

    /// True when the elements lie row-major without gaps (strides of size-1 dimensions
    /// do not matter).
    public var isContiguous: Bool {
        guard shape.count == strides.count else { return false }
        var expected = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            if shape[i] == 0 { return true }
            if shape[i] != 1 && strides[i] != expected { return false }
            let (next, overflow) = expected.multipliedReportingOverflow(by: shape[i])
            if overflow { return false }
            expected = next
        }
        return true
    }
}
