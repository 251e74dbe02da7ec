// swift-tools-version:6.0
// swift-deepspeech: DeepSpeech-family speech-to-text inference in Swift.
//
// Audio flows through the targets in this order (each depends only on earlier ones):
//   SpeechAudio -> SpeechFeatures -> SpeechModels (weights from SpeechCheckpoints, which
//   TensorFlowCheckpoints and PyTorchCheckpoints extend; kernels from SpeechNumerics)
//   -> SpeechDecoding (language models from SpeechLanguageModel) -> DeepSpeech (public API)
//   -> deepspeech (CLI). MappedFiles is the read-only mmap every file reader shares.
// SpeechServer (HTTP, WebSocket and Wyoming routes on one shared model) is the only target that
// depends on a server framework; the CLI's `serve` uses it, the DeepSpeech library does not.
// The underscored targets are system-library shims for Debian's -dev packages, not API.
import PackageDescription

let package = Package(
    name: "swift-deepspeech",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "DeepSpeech", targets: ["DeepSpeech"]),
        .library(name: "SpeechServer", targets: ["SpeechServer"]),
        .executable(name: "deepspeech", targets: ["deepspeech"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Only for the SpeechServer target.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        // C shims (Debian: libopenblas-dev, libfftw3-dev, libsndfile1-dev).
        .systemLibrary(name: "_CBLAS", path: "Sources/_CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "_CFFTW", path: "Sources/_CFFTW", pkgConfig: "fftw3",
                       providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "_CSndFile", path: "Sources/_CSndFile", pkgConfig: "sndfile",
                       providers: [.apt(["libsndfile1-dev"])]),

        // 1. Audio in: decode files, downmix, resample.
        .target(name: "SpeechAudio", dependencies: ["_CSndFile"]),
        // 2. Features: spectrogram, mel filterbank, MFCC, context windows.
        .target(name: "SpeechFeatures", dependencies: ["_CFFTW"]),
        // Numerics used by the models: BLAS wrappers, int8 hybrid kernels, activations.
        .target(name: "SpeechNumerics", dependencies: ["_CBLAS"]),
        // Read-only memory mappings of model and language-model files.
        .target(name: "MappedFiles"),
        // Checkpoint readers: named tensors from .tflite (FlatBuffers) files; the tensor type
        // every importer produces.
        .target(name: "SpeechCheckpoints", dependencies: ["MappedFiles"]),
        // TensorFlow formats: frozen graphs (.pb), memory-mapped graphs (.pbmm), v1 checkpoints.
        .target(name: "TensorFlowCheckpoints", dependencies: ["SpeechCheckpoints"]),
        // PyTorch formats: a safe (never executing) pickle reader, zip and legacy torch.save files.
        .target(name: "PyTorchCheckpoints", dependencies: ["SpeechCheckpoints"]),
        // 3. Typed acoustic models: immutable weights + per-stream state, forward pass.
        .target(name: "SpeechModels", dependencies: ["SpeechNumerics", "SpeechCheckpoints", "TensorFlowCheckpoints", "PyTorchCheckpoints"]),
        // Language models: ARPA and KenLM binaries (read, memory-mapped, scored as KenLM does).
        .target(name: "SpeechLanguageModel", dependencies: ["MappedFiles"]),
        // 4. Decoding: alphabet, greedy CTC, prefix beam search, candidate metadata.
        .target(name: "SpeechDecoding", dependencies: ["SpeechLanguageModel", "MappedFiles"]),
        // 5. Public API (umbrella): load a model, transcribe samples or files.
        .target(name: "DeepSpeech",
                dependencies: ["SpeechAudio", "SpeechFeatures", "SpeechNumerics", "SpeechModels", "SpeechDecoding"]),
        // 6. Serving: OpenAI, whisper.cpp, Rhasspy, deepspeech-server, deepspeech.pytorch and
        //    SINGA-Auto HTTP routes, a WebSocket stream and the Wyoming protocol.
        .target(name: "SpeechServer", dependencies: [
            "DeepSpeech",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // 7. Command-line client.
        .executableTarget(name: "deepspeech", dependencies: [
            "DeepSpeech", "SpeechServer", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Benchmarks live outside Sources/ and are not a dependency of anything.
        .target(name: "BenchmarkSupport", path: "Benchmarks/BenchmarkSupport"),
        .executableTarget(name: "DeepSpeechBenchmark", dependencies: ["DeepSpeech", "BenchmarkSupport"],
                          path: "Benchmarks/DeepSpeechBenchmark"),
        .executableTarget(name: "StreamingBenchmark", dependencies: ["DeepSpeech", "BenchmarkSupport"],
                          path: "Benchmarks/StreamingBenchmark"),
        .executableTarget(name: "CapacityBenchmark", dependencies: ["DeepSpeech", "BenchmarkSupport"],
                          path: "Benchmarks/CapacityBenchmark"),

        // Shared by the test targets: .npy reader, fixture paths, difference helpers.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "SpeechNumericsTests", dependencies: ["SpeechNumerics", "TestSupport"]),
        .testTarget(name: "SpeechAudioTests", dependencies: ["SpeechAudio", "TestSupport"]),
        .testTarget(name: "SpeechFeaturesTests", dependencies: ["SpeechFeatures", "SpeechAudio", "TestSupport"]),
        .testTarget(name: "SpeechCheckpointsTests", dependencies: ["SpeechCheckpoints", "TestSupport"]),
        .testTarget(name: "TensorFlowCheckpointsTests", dependencies: ["TensorFlowCheckpoints", "TestSupport"]),
        .testTarget(name: "PyTorchCheckpointsTests", dependencies: ["PyTorchCheckpoints", "TestSupport"]),
        .testTarget(name: "SpeechModelsTests", dependencies: ["SpeechModels", "TestSupport"]),
        .testTarget(name: "SpeechDecodingTests", dependencies: ["SpeechDecoding", "TestSupport"]),
        .testTarget(name: "SpeechLanguageModelTests", dependencies: ["SpeechLanguageModel", "TestSupport"]),
        .testTarget(name: "DeepSpeechTests", dependencies: ["DeepSpeech", "TestSupport"]),
        .testTarget(name: "SpeechServerTests", dependencies: ["SpeechServer", "TestSupport"]),
    ]
)
