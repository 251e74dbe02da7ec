import Foundation
import TestSupport
import MappedFiles
import SpeechCheckpoints
import XCTest
import PyTorchCheckpoints

/// deepspeech.pytorch layouts built by hand (small models, every metadata variant), so the
/// metadata reading, the cross-checks against the weights and the errors are covered without
/// the fixture files.
final class DeepSpeech2CheckpointTests: XCTestCase {
    func load(_ bytes: [UInt8], _ name: String = "model.pth") throws -> DeepSpeech2Checkpoint {
        try DeepSpeech2Checkpoint(checkpoint: try TorchCheckpoint(file: TorchFileWriter.mapped(bytes, name)))
    }

    func testLightningBiLSTM() throws {
        let model = SyntheticDeepSpeech2()
        let (root, storages) = model.lightning()
        let ds2 = try load(TorchFileWriter.zip(root, storages: storages), "bilstm.ckpt")
        XCTAssertEqual(ds2.layout, .v3)
        XCTAssertEqual(ds2.formatName, "deepspeech.pytorch V3 Lightning .ckpt (zip torch.save)")
        XCTAssertEqual(ds2.labels, SyntheticDeepSpeech2.labels)
        XCTAssertEqual(ds2.rnnType, .lstm)
        XCTAssertEqual(ds2.hiddenSize, 8)
        XCTAssertEqual(ds2.hiddenLayers, 2)
        XCTAssertTrue(ds2.bidirectional)
        XCTAssertNil(ds2.lookaheadContext)
        XCTAssertEqual(ds2.sampleRate, 16000)
        XCTAssertEqual(ds2.windowSize, 0.02)
        XCTAssertEqual(ds2.windowStride, 0.01)
        XCTAssertEqual(ds2.window, "hamming")
        XCTAssertFalse(ds2.symmetricWindow)
        XCTAssertEqual(ds2.audioScale, 32768)
        XCTAssertEqual(ds2.rnnInputSize, 1312)
        XCTAssertEqual(ds2.warnings, [])
        XCTAssertEqual(ds2.tensorNames, model.layout.map(\.0))
        XCTAssertEqual(try ds2.tensors["fc.0.module.1.weight"]?.floats().count, 29 * 8)
    }

    func testLightningUnidirectionalGRUWithLookahead() throws {
        var model = SyntheticDeepSpeech2()
        model.rnn = .gru
        model.bidirectional = false
        model.lookahead = 5
        model.hidden = 6
        model.layers = 3
        let (root, storages) = model.lightning()
        let ds2 = try load(TorchFileWriter.zip(root, storages: storages))
        XCTAssertEqual(ds2.rnnType, .gru)
        XCTAssertFalse(ds2.bidirectional)
        XCTAssertEqual(ds2.lookaheadContext, 5)
        XCTAssertEqual(ds2.hiddenSize, 6)
        XCTAssertEqual(ds2.hiddenLayers, 3)
        XCTAssertEqual(ds2.warnings, [])
    }

    func testVersion20LegacyPackage() throws {
        var model = SyntheticDeepSpeech2()
        model.rnn = .rnn
        let (root, storages) = model.version20()
        let ds2 = try load(TorchFileWriter.legacy(root, storages: storages))
        XCTAssertEqual(ds2.layout, .v2_0)
        XCTAssertEqual(ds2.formatName, "deepspeech.pytorch v2.0 .pth (legacy torch.save)")
        XCTAssertEqual(ds2.labels, SyntheticDeepSpeech2.labels)
        XCTAssertEqual(ds2.rnnType, .rnn)
        XCTAssertTrue(ds2.symmetricWindow)
        XCTAssertEqual(ds2.audioScale, 32767)
        XCTAssertEqual(ds2.warnings, [])

        // A label string is split as Python iterates it: by code point, not by grapheme.
        var combining = SyntheticDeepSpeech2()
        combining.classes = 4
        let (state, combiningStorages) = combining.stateDict()
        let root4: Py = .dict([(.str("version"), .str("0.0.1")), (.str("labels"), .str("_e\u{301} ")), (.str("state_dict"), state)])
        XCTAssertEqual(try load(TorchFileWriter.zip(root4, storages: combiningStorages)).labels, ["_", "e", "\u{301}", " "])
    }

    func testVersion21WithDictConfigAudioConf() throws {
        var model = SyntheticDeepSpeech2()
        model.half = true
        let (root, storages) = model.version21()
        let ds2 = try load(TorchFileWriter.zip(root, storages: storages, folder: "model"))
        XCTAssertEqual(ds2.layout, .v2_1)
        XCTAssertEqual(ds2.formatName, "deepspeech.pytorch V2.1 .pth (zip torch.save)")
        XCTAssertEqual(ds2.window, "hamming")
        XCTAssertEqual(ds2.sampleRate, 16000)
        XCTAssertEqual(ds2.audioScale, 32767)
        XCTAssertFalse(ds2.symmetricWindow)
        XCTAssertEqual(ds2.tensors["rnns.0.rnn.weight_hh_l0"]?.dataType, .float16)
        XCTAssertEqual(ds2.warnings, [])
    }

    func testWeightsWinOverDisagreeingMetadata() throws {
        let model = SyntheticDeepSpeech2()
        let (state, storages) = model.stateDict()
        // Says GRU, 16 hidden, 4 layers, unidirectional; the weights are a 2-layer BiLSTM of 8.
        let root: Py = .dict([(.str("version"), .str("0.0.1")), (.str("hidden_size"), .int(16)), (.str("hidden_layers"), .int(4)),
                              (.str("rnn_type"), .str("gru")), (.str("labels"), .str(SyntheticDeepSpeech2.labels.joined())),
                              (.str("state_dict"), state), (.str("bidirectional"), .bool(false))])
        let ds2 = try load(TorchFileWriter.legacy(root, storages: storages))
        XCTAssertEqual(ds2.rnnType, .lstm)
        XCTAssertEqual(ds2.hiddenSize, 8)
        XCTAssertEqual(ds2.hiddenLayers, 2)
        XCTAssertTrue(ds2.bidirectional)
        XCTAssertEqual(ds2.warnings.count, 8, "\(ds2.warnings)")  // 4 disagreements, 4 spectrogram defaults
        XCTAssertTrue(ds2.warnings.contains("the checkpoint says rnn_type gru, but the weights have lstm; using lstm"), "\(ds2.warnings)")
        XCTAssertTrue(ds2.warnings.contains("the checkpoint says hidden_size 16, but the weights have 8; using 8"), "\(ds2.warnings)")
        XCTAssertTrue(ds2.warnings.contains { $0.contains("sample_rate") })
        XCTAssertEqual(ds2.sampleRate, 16000)
    }

    func testMissingModelConfigIsInferredWithWarnings() throws {
        var model = SyntheticDeepSpeech2()
        model.bidirectional = false
        let (state, storages) = model.stateDict()
        let hyper: Py = .dict([(.str("labels"), .list(SyntheticDeepSpeech2.labels.map { .str($0) })),
                               (.str("spect_cfg"), SyntheticDeepSpeech2.dictConfig(type: nil, SyntheticDeepSpeech2.spectConfigV3, memo: 2))])
        let ds2 = try load(TorchFileWriter.zip(.dict([(.str("state_dict"), state), (.str("hyper_parameters"), hyper)]), storages: storages))
        XCTAssertFalse(ds2.bidirectional)
        XCTAssertEqual(ds2.lookaheadContext, 3)
        XCTAssertEqual(Set(ds2.warnings.map { $0.components(separatedBy: ";")[0] }), [
            "the checkpoint does not say its rnn_type", "the checkpoint does not say its hidden_size",
            "the checkpoint does not say its hidden_layers", "the checkpoint does not say its bidirectional",
            "the checkpoint does not say its lookahead_context",
        ])
    }

    func testMissingAndMisshapenTensorsAreNamed() throws {
        let model = SyntheticDeepSpeech2()
        let (root, storages) = model.version20()
        guard case .dict(var entries) = root, let index = entries.firstIndex(where: { if case .str("state_dict") = $0.0 { return true }; return false }),
              case .ordered(var state, let metadata) = entries[index].1 else { return XCTFail() }
        // Drop one tensor.
        let dropped = state.filter { if case .str("rnns.1.rnn.bias_hh_l0_reverse") = $0.0 { return false }; return true }
        entries[index].1 = .ordered(dropped, state: metadata)
        XCTAssertThrowsError(try load(TorchFileWriter.zip(.dict(entries), storages: storages), "m.pth")) { error in
            XCTAssertEqual("\(error)", "m.pth: missing tensor 'rnns.1.rnn.bias_hh_l0_reverse'")
        }
        // (A legacy file whose key list names a storage no tensor uses is refused, as torch does.)
        XCTAssertThrowsError(try load(TorchFileWriter.legacy(.dict(entries), storages: storages), "m.pth")) { error in
            XCTAssertTrue("\(error)".contains("no tensor names it"), "\(error)")
        }
        // 30 output rows for 29 labels.
        guard let fc = state.firstIndex(where: { if case .str("fc.0.module.1.weight") = $0.0 { return true }; return false }) else { return XCTFail() }
        state[fc].1 = .tensor(storageType: "FloatStorage", key: "0", numel: 14432, view: nil, offset: 0, size: [30, 8], stride: [8, 1])
        entries[index].1 = .ordered(state, state: metadata)
        XCTAssertThrowsError(try load(TorchFileWriter.zip(.dict(entries), storages: storages), "m.pth")) { error in
            XCTAssertTrue("\(error)".hasPrefix("m.pth: tensor 'fc.0.module.1.weight' has shape [30, 8], expected [29, 8]"), "\(error)")
        }
        // A gate multiple that is no RNN's.
        var odd = SyntheticDeepSpeech2()
        odd.hidden = 5
        let (oddRoot, oddStorages) = odd.version20()
        guard case .dict(var oddEntries) = oddRoot, case .ordered(var oddState, let oddMetadata) = oddEntries[index].1,
              let hh = oddState.firstIndex(where: { if case .str("rnns.0.rnn.weight_hh_l0") = $0.0 { return true }; return false }) else { return XCTFail() }
        oddState[hh].1 = .tensor(storageType: "FloatStorage", key: "0", numel: 14432, view: nil, offset: 0, size: [10, 5], stride: [5, 1])
        oddEntries[index].1 = .ordered(oddState, state: oddMetadata)
        XCTAssertThrowsError(try load(TorchFileWriter.zip(.dict(oddEntries), storages: oddStorages))) { error in
            XCTAssertTrue("\(error)".contains("[10, 5]"), "\(error)")
        }
    }

    func testOtherCheckpointsAreNotDeepSpeech2() throws {
        let (state, storages) = SyntheticDeepSpeech2().stateDict()
        XCTAssertThrowsError(try load(TorchFileWriter.zip(.dict([(.str("state_dict"), state)]), storages: storages))) { error in
            XCTAssertTrue("\(error)".contains("not a deepspeech.pytorch checkpoint"), "\(error)")
        }
        XCTAssertThrowsError(try load(TorchFileWriter.zip(.list([]), storages: [])))
    }

    /// Small synthetic files damaged at random: zip, Zip64 and legacy, every layout.
    func testMutatedSyntheticFilesThrowOrReadNeverCrash() throws {
        var small = SyntheticDeepSpeech2()
        small.hidden = 2
        small.layers = 2
        let sample = TorchCheckpointTests.sampleStateDict()
        let files: [(String, [UInt8])] = [
            ("sample.zip", TorchFileWriter.zip(sample.0, storages: sample.1)),
            ("sample.zip64", TorchFileWriter.zip(sample.0, storages: sample.1, zip64: true)),
            ("sample.legacy", TorchFileWriter.legacy(sample.0, storages: sample.1)),
            ("sample.evil", PythonPickles.bytes(PythonPickles.evil)),
            // DeepSpeech2 metadata (OmegaConf records and all) without the 1 MB of weights.
            ("ds2.ckpt", TorchFileWriter.zip(small.lightning().0, storages: [])),
            ("ds2.v21.pth", TorchFileWriter.zip(small.version21().0, storages: [])),
            ("ds2.v2.pth", TorchFileWriter.legacy(small.version20().0, storages: [])),
        ]
        let scale = Int(ProcessInfo.processInfo.environment["TORCH_MUTATIONS"] ?? "") ?? 1
        var outcomes = (read: 0, refused: 0)
        for (index, (name, original)) in files.enumerated() {
            for copy in 0..<300 * scale {
                var rng = SeededGenerator(seed: 0xF00D_0000_0000 | UInt64(index) << 32 | UInt64(copy))
                if MutationHarness.exercise(Mutator.mutate(original, using: &rng), name: name) { outcomes.read += 1 } else { outcomes.refused += 1 }
            }
        }
        print("mutation test (synthetic): \(outcomes.read + outcomes.refused) damaged copies, \(outcomes.read) read, \(outcomes.refused) refused")
        XCTAssertGreaterThan(outcomes.read, 0)
        XCTAssertGreaterThan(outcomes.refused, 0)
    }
}
