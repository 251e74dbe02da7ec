// Times swift-deepspeech against Coqui STT 1.4.0 on the same model and audio, in one run,
// both pinned to one CPU core, and prints real-time factors, their ratio and peak RSS.
//
//   swift run -c release DeepSpeechBenchmark [--model FILE] [--audio FILE] [--repeat N]
//                                            [--peers DIR] [--no-peer]
//
// The reference engine runs through ../shared/peers/peer.py (fetched by its fetch.sh into
// ~/.cache/ds-peers); it is timed by peer.py itself (recognition only, model load excluded,
// minimum over N runs), as this engine is here.
import BenchmarkSupport
import DeepSpeech
import Foundation
#if canImport(Glibc)
import Glibc
#endif

func cpuDescription() -> String {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
    let lines = info.split(separator: "\n")
    let model = lines.first { $0.hasPrefix("model name") }.map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) } ?? "unknown"
    let flags = Set(lines.first { $0.hasPrefix("flags") }.map { $0.split(separator: " ").map(String.init) } ?? [])
    let wanted = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni"]
    return "\(model); features: \(wanted.filter(flags.contains).joined(separator: " "))"
}

let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
let audioPath = argument("--audio") ?? "Fixtures/clips/long-hy.wav"
let repeats = Int(argument("--repeat") ?? "3") ?? 3
let peersDir = argument("--peers") ?? (NSHomeDirectory() + "/.cache/ds-peers")
let peerScript = argument("--peer-script") ?? root.appendingPathComponent("../shared/peers/peer.py").standardized.path

pinToCore("0")
print("CPU: \(cpuDescription())")
print("threads: this process pinned to CPU 0; the reference engine runs under `taskset -c 0`")

let modelPath: String
do { modelPath = try argument("--model") ?? DefaultModel.path(log: { print($0) }) } catch { print("benchmark: \(error)"); exit(1) }

let loadStart = Date()
let model: SpeechModel
do { model = try SpeechModel(path: modelPath) } catch { print("benchmark: \(error)"); exit(1) }
print(model.summary)
print(String(format: "model load: %.3f s", Date().timeIntervalSince(loadStart)))

let samples: [Float]
do { samples = try ModelInput.load(path: audioPath, sampleRate: model.sampleRate) } catch { print("benchmark: \(error)"); exit(1) }
let audioSeconds = Double(samples.count) / Double(model.sampleRate)
print(String(format: "audio: %@, %.2f s", audioPath, audioSeconds))

var best: Transcription? = nil
for run in 1...max(1, repeats) {
    let result = try! model.transcribeWithMetadata(samples)   // default options are valid
    let t = result.timings
    print(String(format: "  run %d: %.3f s (features %.3f, acoustic model %.3f, decoding %.3f)", run, t.total, t.features, t.acousticModel, t.decoding))
    if best == nil || t.total < best!.timings.total { best = result }
}
let ours = best!
let ourRSS = peakRSSMegabytes(children: false)
let ourRTF = ours.timings.total / audioSeconds

var peerLine = "reference engine: skipped (--no-peer)"
var ratioLine = ""
if !CommandLine.arguments.contains("--no-peer") {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
    process.arguments = ["-c", "0", "python3", peerScript, "--peers-dir", peersDir, "--model", modelPath,
                         "--repeat", String(repeats), audioPath]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    do {
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let peerRSS = peakRSSMegabytes(children: true)
        if process.terminationStatus == 0,
           let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
           let seconds = object["seconds"] as? Double {
            let text = object["text"] as? String ?? ""
            let peerRTF = seconds / audioSeconds
            peerLine = String(format: "Coqui STT 1.4.0:  %.3f s, real-time factor %.3f, peak RSS %.0f MB (includes the Python interpreter running peer.py)", seconds, peerRTF, peerRSS)
            ratioLine = String(format: "speed ratio (Coqui time / swift-deepspeech time): %.2fx; same transcript: %@", seconds / ours.timings.total, text == ours.text ? "yes" : "NO")
        } else {
            peerLine = "reference engine: peer.py failed (exit \(process.terminationStatus)); run ../shared/peers/fetch.sh first"
        }
    } catch {
        peerLine = "reference engine: cannot run \(peerScript): \(error)"
    }
}

print("")
print(String(format: "swift-deepspeech: %.3f s, real-time factor %.3f, peak RSS %.0f MB", ours.timings.total, ourRTF, ourRSS))
print(peerLine)
if !ratioLine.isEmpty { print(ratioLine) }
print("transcript: \(ours.text)")
