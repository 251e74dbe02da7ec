import DeepSpeech
import Foundation
import SpeechServer

/// One libFuzzer binary, many targets: `FUZZ_TARGET=<name>` picks the reader each input goes to.
/// A target must never crash, hang or allocate without bound on any input; a thrown error is
/// the right answer to bad bytes.
enum FuzzTarget: String, CaseIterable {
    /// WAV/FLAC/OGG/… through the audio reader (header checks, libsndfile, sample checks).
    case audio
    /// Any model file (.tflite FlatBuffers, .pb/.pbmm protobuf, TF checkpoint index, .pth/.ckpt
    /// pickle and zip, .dsmodel), recognised from its bytes as `--model` does.
    case model
    /// Language models as `--scorer` takes them: scorer packages, KenLM binaries, ARPA, 0.6 tries.
    case languageModel = "lm"
    /// alphabet.txt.
    case alphabet
    /// The server's multipart/form-data parser.
    case multipart
    /// The server's Wyoming event framing.
    case wyoming
}

let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(name)')\n".utf8))
        exit(2)
    }
    return target
}()

/// Readers that take a path get the input as a file in memory-backed /dev/shm.
let scratch = "/dev/shm/deepspeech-fuzz-\(getpid())"
let alphabet = try! Alphabet(labels: [" ", "a", "b", "c", "d", "e", "ա", "բ"])

func withFile(_ bytes: [UInt8], _ body: (String) throws -> Void) {
    FileManager.default.createFile(atPath: scratch, contents: Data(bytes))
    try? body(scratch)
}

func run(_ bytes: [UInt8]) {
    switch target {
    case .audio:
        withFile(bytes) { _ = try AudioFileReader.read(path: $0) }
    case .model:
        withFile(bytes) { path in
            let model = try SpeechModel(path: path)
            _ = model.transcribe([Float](repeating: 0.01, count: 1600))
        }
    case .languageModel:
        withFile(bytes) { path in
            let scorer = try LanguageModelScorer.load(path: path, alphabet: alphabet)
            _ = scorer.languageModel.order
        }
    case .alphabet:
        _ = try? Alphabet(text: String(decoding: bytes, as: UTF8.self))
        _ = try? Alphabet(serialized: bytes)
    case .multipart:
        if let form = try? MultipartForm(body: bytes, boundary: "fuzzbound") { _ = form.text("file") }
    case .wyoming:
        var reader = WyomingEventReader()
        reader.append(bytes)
        while let event = try? reader.next() { _ = event.encoded() }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

// SwiftPM links an executable's entry point as `<module>_main`; hand control to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("deepspeech_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc, argv = argv
    _ = target
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
}
