// swift-tools-version:6.0
// libFuzzer targets for every reader that takes bytes from outside. Kept out of the main package
// so that its sanitizer flags never reach a library product. Build and run with Fuzz/run.sh.
import PackageDescription

let package = Package(
    name: "DeepSpeechFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "swift-deepspeech", path: "..")],
    targets: [
        .executableTarget(name: "deepspeech-fuzz", dependencies: [
            .product(name: "DeepSpeech", package: "swift-deepspeech"),
            .product(name: "SpeechServer", package: "swift-deepspeech"),
        ]),
    ]
)
