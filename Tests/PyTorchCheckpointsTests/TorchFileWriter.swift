import Foundation
import TestSupport
import MappedFiles
import PyTorchCheckpoints

/// Python values for hand-built test pickles (what torch.save and Lightning write, in small).
indirect enum Py {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case str(String)
    case list([Py])
    case tuple([Py])
    case dict([(Py, Py)])
    /// `collections.OrderedDict` with optional BUILD state.
    case ordered([(Py, Py)], state: Py?)
    case global(String, String)
    case reduce(Py, [Py])
    /// NEWOBJ, optionally memoized under `memo` before BUILD (so the state can refer back).
    case newobj(Py, [Py], state: Py?, memo: Int?)
    /// A memo reference (LONG_BINGET).
    case get(Int)
    /// `_rebuild_tensor_v2` on a storage persistent id.
    case tensor(storageType: String, key: String, numel: Int, view: (String, Int, Int)?, offset: Int, size: [Int], stride: [Int])
}

/// Writes protocol-2 pickles, as torch.save does.
struct PickleWriter {
    var out: [UInt8] = [0x80, 0x02]

    static func pickle(_ value: Py) -> [UInt8] {
        var w = PickleWriter()
        w.emit(value)
        w.out.append(0x2E)
        return w.out
    }

    mutating func u32(_ v: Int) { for i in 0..<4 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }

    mutating func emit(_ value: Py) {
        switch value {
        case .none: out.append(0x4E)
        case .bool(let b): out.append(b ? 0x88 : 0x89)
        case .int(let i):
            if i >= 0 && i < 256 { out += [0x4B, UInt8(i)] } else if let small = Int32(exactly: i) {
                out.append(0x4A)
                u32(Int(UInt32(bitPattern: small)))
            } else {
                out += [0x8A, 8]
                for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: i >> (8 * Int64(k)))) }
            }
        case .float(let d):
            out.append(0x47)
            let bits = d.bitPattern
            for k in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(k)))) }
        case .str(let s):
            out.append(0x58)
            u32(s.utf8.count)
            out += Array(s.utf8)
        case .list(let items):
            out.append(0x5D)
            if !items.isEmpty {
                out.append(0x28)
                for item in items { emit(item) }
                out.append(0x65)
            }
        case .tuple(let items):
            switch items.count {
            case 0: out.append(0x29)
            case 1...3:
                for item in items { emit(item) }
                out.append([0x85, 0x86, 0x87][items.count - 1])
            default:
                out.append(0x28)
                for item in items { emit(item) }
                out.append(0x74)
            }
        case .dict(let entries):
            out.append(0x7D)
            setItems(entries)
        case .ordered(let entries, let state):
            emit(.global("collections", "OrderedDict"))
            out += [0x29, 0x52]
            setItems(entries)
            if let state {
                emit(state)
                out.append(0x62)
            }
        case .global(let module, let name):
            out.append(0x63)
            out += Array("\(module)\n\(name)\n".utf8)
        case .reduce(let callable, let args):
            emit(callable)
            emit(.tuple(args))
            out.append(0x52)
        case .newobj(let cls, let args, let state, let memo):
            emit(cls)
            emit(.tuple(args))
            out.append(0x81)
            if let memo {
                out.append(0x72)
                u32(memo)
            }
            if let state {
                emit(state)
                out.append(0x62)
            }
        case .get(let index):
            out.append(0x6A)
            u32(index)
        case .tensor(let storageType, let key, let numel, let view, let offset, let size, let stride):
            emit(.global("torch._utils", "_rebuild_tensor_v2"))
            out.append(0x28)  // MARK for the argument tuple
            var id: [Py] = [.str("storage"), .global("torch", storageType), .str(key), .str("cpu"), .int(Int64(numel))]
            if let view { id.append(.tuple([.str(view.0), .int(Int64(view.1)), .int(Int64(view.2))])) }
            emit(.tuple(id))
            out.append(0x51)  // BINPERSID
            emit(.int(Int64(offset)))
            emit(.tuple(size.map { .int(Int64($0)) }))
            emit(.tuple(stride.map { .int(Int64($0)) }))
            emit(.bool(false))
            emit(.ordered([], state: nil))
            out.append(0x74)  // TUPLE
            out.append(0x52)  // REDUCE
        }
    }

    mutating func setItems(_ entries: [(Py, Py)]) {
        guard !entries.isEmpty else { return }
        out.append(0x28)
        for (k, v) in entries {
            emit(k)
            emit(v)
        }
        out.append(0x75)
    }
}

/// A zip archive as torch.save writes it: STORED entries whose data start on 64-byte
/// boundaries (the local extra field pads), optionally with Zip64 records.
struct ZipWriter {
    var entries: [(name: String, data: [UInt8], method: UInt16)] = []

    mutating func add(_ name: String, _ data: [UInt8], method: UInt16 = 0) { entries.append((name, data, method)) }

    func bytes(zip64: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: Int) { out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func u32(_ v: Int) { for i in 0..<4 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
        func u64(_ v: Int) { for i in 0..<8 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
        var offsets: [Int] = []
        for entry in entries {
            offsets.append(out.count)
            let name = Array(entry.name.utf8)
            u32(0x0403_4B50); u16(zip64 ? 45 : 20); u16(0); u16(Int(entry.method)); u16(0); u16(0)
            u32(0); u32(entry.data.count); u32(entry.data.count)
            u16(name.count)
            // Pad with an extra block ("FB", as torch does) so the data start on 64 bytes.
            let headerEnd = out.count + 2 + name.count
            var pad = (64 - (headerEnd + 4) % 64) % 64
            u16(4 + pad)
            out += name
            u16(0x4246); u16(pad)
            while pad > 0 { out.append(0x5A); pad -= 1 }
            out += entry.data
        }
        let directoryStart = out.count
        for (entry, offset) in zip(entries, offsets) {
            let name = Array(entry.name.utf8)
            u32(0x0201_4B50); u16(zip64 ? 45 : 20); u16(zip64 ? 45 : 20); u16(0); u16(Int(entry.method)); u16(0); u16(0)
            u32(0)
            if zip64 { u32(0xFFFF_FFFF); u32(0xFFFF_FFFF) } else { u32(entry.data.count); u32(entry.data.count) }
            u16(name.count); u16(zip64 ? 28 : 0); u16(0); u16(0); u16(0); u32(0)
            u32(zip64 ? 0xFFFF_FFFF : offset)
            out += name
            if zip64 {
                u16(1); u16(24); u64(entry.data.count); u64(entry.data.count); u64(offset)
            }
        }
        let directorySize = out.count - directoryStart
        if zip64 {
            let record = out.count
            u32(0x0606_4B50); u64(44); u16(45); u16(45); u32(0); u32(0)
            u64(entries.count); u64(entries.count); u64(directorySize); u64(directoryStart)
            u32(0x0706_4B50); u32(0); u64(record); u32(1)
            u32(0x0605_4B50); u16(0); u16(0); u16(0xFFFF); u16(0xFFFF); u32(0xFFFF_FFFF); u32(0xFFFF_FFFF); u16(0)
        } else {
            u32(0x0605_4B50); u16(0); u16(0); u16(entries.count); u16(entries.count); u32(directorySize); u32(directoryStart); u16(0)
        }
        return out
    }
}

/// One storage: its type, key and little-endian bytes.
struct TestStorage {
    let type: String
    let key: String
    let bytes: [UInt8]
    var width: Int { TorchStorageReference.dataType(forStorageType: type)?.byteWidth ?? 1 }
    var numel: Int { bytes.count / width }

    static func floats(_ key: String, _ values: [Float]) -> TestStorage {
        TestStorage(type: "FloatStorage", key: key, bytes: values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { Array($0) })
    }
    static func halves(_ key: String, _ values: [Float]) -> TestStorage {
        TestStorage(type: "HalfStorage", key: key, bytes: values.map { halfBits($0).littleEndian }.withUnsafeBytes { Array($0) })
    }
    static func int64s(_ key: String, _ values: [Int64]) -> TestStorage {
        TestStorage(type: "LongStorage", key: key, bytes: values.map { $0.littleEndian }.withUnsafeBytes { Array($0) })
    }
}

enum TorchFileWriter {
    /// A zip-format checkpoint: `<folder>/data.pkl`, `<folder>/data/<key>`, version, byteorder.
    static func zip(_ root: Py, storages: [TestStorage], folder: String = "archive", byteorder: String? = "little",
                    zip64: Bool = false) -> [UInt8] {
        zip(pickle: PickleWriter.pickle(root), storages: storages, folder: folder, byteorder: byteorder, zip64: zip64)
    }

    static func zip(pickle: [UInt8], storages: [TestStorage], folder: String = "archive", byteorder: String? = "little",
                    zip64: Bool = false) -> [UInt8] {
        var writer = ZipWriter()
        writer.add("\(folder)/data.pkl", pickle)
        if let byteorder { writer.add("\(folder)/byteorder", Array(byteorder.utf8)) }
        for storage in storages { writer.add("\(folder)/data/\(storage.key)", storage.bytes) }
        writer.add("\(folder)/version", Array("3\n".utf8))
        writer.add("\(folder)/.data/serialization_id", Array("1234567890".utf8))
        return writer.bytes(zip64: zip64)
    }

    /// A legacy-format checkpoint: the five pickles, then each storage as int64 count + bytes.
    static func legacy(_ root: Py, storages: [TestStorage]) -> [UInt8] {
        var out: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
        out += PickleWriter.pickle(.int(1001))
        out += PickleWriter.pickle(.dict([(.str("protocol_version"), .int(1001)), (.str("little_endian"), .bool(true)),
                                          (.str("type_sizes"), .dict([(.str("short"), .int(2)), (.str("int"), .int(4)), (.str("long"), .int(4))]))]))
        out += PickleWriter.pickle(root)
        let sorted = storages.sorted { $0.key < $1.key }
        out += PickleWriter.pickle(.list(sorted.map { .str($0.key) }))
        for storage in sorted {
            let n = storage.numel
            for i in 0..<8 { out.append(UInt8((n >> (8 * i)) & 0xFF)) }
            out += storage.bytes
        }
        return out
    }

    static func mapped(_ bytes: [UInt8], _ name: String = "test.pth") -> MappedFile { MappedFile(copying: bytes, path: name) }
}

/// A small DeepSpeech2 model's state_dict, for synthetic checkpoints of every layout.
struct SyntheticDeepSpeech2 {
    var rnn: DeepSpeech2Checkpoint.RNNType = .lstm
    var hidden = 8
    var layers = 2
    var bidirectional = true
    var lookahead = 3
    var classes = 29
    var half = false
    var rnnInput = 1312

    /// (name, shape) in module order.
    var layout: [(String, [Int])] {
        let g = rnn.gateMultiple * hidden, h = hidden
        var names: [(String, [Int])] = [("conv.seq_module.0.weight", [32, 1, 41, 11]), ("conv.seq_module.0.bias", [32])]
        func bn(_ prefix: String, _ n: Int) {
            for p in ["weight", "bias", "running_mean", "running_var"] { names.append(("\(prefix).\(p)", [n])) }
            names.append(("\(prefix).num_batches_tracked", []))
        }
        bn("conv.seq_module.1", 32)
        names += [("conv.seq_module.3.weight", [32, 32, 21, 11]), ("conv.seq_module.3.bias", [32])]
        bn("conv.seq_module.4", 32)
        for layer in 0..<layers {
            if layer > 0 { bn("rnns.\(layer).batch_norm.module", h) }
            for suffix in bidirectional ? ["", "_reverse"] : [""] {
                names.append(("rnns.\(layer).rnn.weight_ih_l0\(suffix)", [g, layer == 0 ? rnnInput : h]))
                names.append(("rnns.\(layer).rnn.weight_hh_l0\(suffix)", [g, h]))
                names.append(("rnns.\(layer).rnn.bias_ih_l0\(suffix)", [g]))
                names.append(("rnns.\(layer).rnn.bias_hh_l0\(suffix)", [g]))
            }
        }
        if !bidirectional { names.append(("lookahead.0.conv.weight", [h, 1, lookahead])) }
        bn("fc.0.module.0", h)
        names.append(("fc.0.module.1.weight", [classes, h]))
        return names
    }

    /// The state_dict pickle value and its storages (one per tensor; values from the name).
    func stateDict() -> (Py, [TestStorage]) {
        var entries: [(Py, Py)] = []
        var storages: [TestStorage] = []
        for (index, (name, shape)) in layout.enumerated() {
            let key = String(index)
            let count = shape.reduce(1, *)
            let stride = shape.indices.map { shape[($0 + 1)...].reduce(1, *) }
            if name.hasSuffix("num_batches_tracked") {
                storages.append(.int64s(key, [Int64(index)]))
                entries.append((.str(name), .tensor(storageType: "LongStorage", key: key, numel: 1, view: nil, offset: 0, size: [], stride: [])))
                continue
            }
            let values = (0..<count).map { Float(($0 &* 31 &+ index &* 7) % 97) / 64 - 0.75 }
            storages.append(half ? .halves(key, values) : .floats(key, values))
            entries.append((.str(name), .tensor(storageType: half ? "HalfStorage" : "FloatStorage", key: key, numel: count,
                                                view: nil, offset: 0, size: shape, stride: stride)))
        }
        let metadata: Py = .dict([(.str("_metadata"), .ordered([(.str(""), .dict([(.str("version"), .int(1))]))], state: nil))])
        return (.ordered(entries, state: metadata), storages)
    }

    static let labels = ["_", "'"] + (65...90).map { String(UnicodeScalar(UInt8($0))) } + [" "]

    /// An OmegaConf DictConfig record as OmegaConf pickles it: NEWOBJ + BUILD of
    /// `{_metadata, _parent, _content: {key: node}}`, each node pointing back at its parent.
    static func dictConfig(type: (String, String)?, _ content: [(String, Py)], memo: Int) -> Py {
        let metadata: Py = .newobj(.global("omegaconf.base", "ContainerMetadata"), [], state: .dict([
            (.str("ref_type"), .global("typing", "Any")),
            (.str("object_type"), type.map { .global($0.0, $0.1) } ?? .global("builtins", "dict")),
            (.str("optional"), .bool(true)), (.str("key"), .none), (.str("flags"), .dict([])),
        ]), memo: nil)
        let nodes: [(Py, Py)] = content.enumerated().map { i, entry in
            let nodeType: String
            switch entry.1 {
            case .int: nodeType = "IntegerNode"
            case .float: nodeType = "FloatNode"
            case .str: nodeType = "StringNode"
            case .reduce: nodeType = "EnumNode"
            default: nodeType = "AnyNode"
            }
            return (.str(entry.0), .newobj(.global("omegaconf.nodes", nodeType), [], state: .dict([
                (.str("_metadata"), .newobj(.global("omegaconf.base", "Metadata"), [], state: .dict([(.str("key"), .str(entry.0))]), memo: nil)),
                (.str("_parent"), .get(memo)),
                (.str("_val"), entry.1),
            ]), memo: memo * 100 + i + 1))
        }
        return .newobj(.global("omegaconf.dictconfig", "DictConfig"), [], state: .dict([
            (.str("_metadata"), metadata), (.str("_parent"), .none), (.str("_content"), .dict(nodes)),
        ]), memo: memo)
    }

    var rnnName: String { ["lstm": "LSTM", "gru": "GRU", "rnn": "RNN"][rnn.rawValue] ?? "LSTM" }

    static var spectConfigV3: [(String, Py)] { [
        ("sample_rate", .int(16000)), ("window_size", .float(0.02)), ("window_stride", .float(0.01)),
        ("window", .reduce(.global("deepspeech_pytorch.enums", "SpectrogramWindow"), [.str("hamming")])),
    ] }

    /// V3 Lightning checkpoint: hyper_parameters with OmegaConf configs.
    func lightning() -> (Py, [TestStorage]) {
        let (state, storages) = stateDict()
        var model: [(String, Py)] = [("rnn_type", .reduce(.global("deepspeech_pytorch.enums", "RNNType"), [.global("torch.nn.modules.rnn", rnnName)])),
                                     ("hidden_size", .int(Int64(hidden))), ("hidden_layers", .int(Int64(layers)))]
        if !bidirectional { model.append(("lookahead_context", .int(Int64(lookahead)))) }
        let type = ("deepspeech_pytorch.configs.train_config", bidirectional ? "BiDirectionalConfig" : "UniDirectionalConfig")
        let hyper: Py = .dict([
            (.str("labels"), .list(Self.labels.map { .str($0) })),
            (.str("model_cfg"), Self.dictConfig(type: type, model, memo: 1)),
            (.str("precision"), .int(32)),
            (.str("spect_cfg"), Self.dictConfig(type: ("deepspeech_pytorch.configs.train_config", "SpectConfig"), Self.spectConfigV3, memo: 2)),
        ])
        let root: Py = .dict([
            (.str("epoch"), .int(3)), (.str("global_step"), .int(120)), (.str("pytorch-lightning_version"), .str("1.1.8")),
            (.str("state_dict"), state),
            (.str("callbacks"), .dict([(.global("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint"), .dict([]))])),
            (.str("hparams_name"), .str("kwargs")),
            (.str("hyper_parameters"), hyper),
        ])
        return (root, storages)
    }

    /// v2.0 package: plain dict, labels one string.
    func version20() -> (Py, [TestStorage]) {
        let (state, storages) = stateDict()
        let audio: Py = .dict([(.str("sample_rate"), .int(16000)), (.str("window_size"), .float(0.02)), (.str("window_stride"), .float(0.01)),
                               (.str("window"), .str("hamming")), (.str("noise_dir"), .none), (.str("noise_prob"), .float(0.4)),
                               (.str("noise_levels"), .tuple([.float(0), .float(0.5)]))])
        return (.dict([(.str("version"), .str("0.0.1")), (.str("hidden_size"), .int(Int64(hidden))), (.str("hidden_layers"), .int(Int64(layers))),
                       (.str("rnn_type"), .str(rnn.rawValue)), (.str("audio_conf"), audio), (.str("labels"), .str(Self.labels.joined())),
                       (.str("state_dict"), state), (.str("bidirectional"), .bool(bidirectional))]), storages)
    }

    /// V2.1 package: labels a list, audio_conf a DictConfig.
    func version21() -> (Py, [TestStorage]) {
        let (state, storages) = stateDict()
        let spect: [(String, Py)] = [("sample_rate", .int(16000)), ("window_size", .float(0.02)), ("window_stride", .float(0.01)),
                                     ("window", .reduce(.global("deepspeech_pytorch.enums", "SpectrogramWindow"), [.str("hamming")]))]
        return (.dict([(.str("hidden_size"), .int(Int64(hidden))), (.str("hidden_layers"), .int(Int64(layers))),
                       (.str("rnn_type"), .str(rnn.rawValue)), (.str("audio_conf"), Self.dictConfig(type: nil, spect, memo: 3)),
                       (.str("labels"), .list(Self.labels.map { .str($0) })), (.str("state_dict"), state),
                       (.str("bidirectional"), .bool(bidirectional)), (.str("epoch"), .int(2))]), storages)
    }
}

/// float32 → IEEE half bits, rounding to nearest even (as torch's `.half()` does).
func halfBits(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exponent = Int((bits >> 23) & 0xFF)
    var mantissa = bits & 0x7F_FFFF
    if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0) }
    let e = exponent - 127 + 15
    if e >= 31 { return sign | 0x7C00 }
    if e <= 0 {
        if e < -10 { return sign }
        mantissa |= 0x80_0000
        let shift = UInt32(14 - e)
        var half = mantissa >> shift
        let rest = mantissa & ((1 << shift) - 1), halfway = UInt32(1) << (shift - 1)
        if rest > halfway || (rest == halfway && half & 1 == 1) { half += 1 }
        return sign | UInt16(half)
    }
    var half = UInt32(e) << 10 | (mantissa >> 13)
    let rest = mantissa & 0x1FFF
    if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) { half += 1 }
    return sign | UInt16(half)
}
