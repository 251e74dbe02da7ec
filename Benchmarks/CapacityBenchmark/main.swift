// Capacity of one machine: N streams at once over one shared model, each fed the fixture clip
// (repeated to --seconds of audio) in 320 ms chunks as fast as it goes, with an intermediate
// decode after every chunk, as a server's live streams are. Prints the audio seconds
// transcribed per wall second (all streams together), the p50/p99 latency of one chunk
// (feed + intermediate decode) and the peak RSS. Benchmarks/capacity.sh runs it next to Coqui
// STT 1.4 on the same cores.
//
//   swift run -c release CapacityBenchmark [--streams N] [--seconds S] [--chunk-ms MS] [--model FILE] [--audio FILE] [--json]
import BenchmarkSupport
import DeepSpeech
import Foundation

let streamCount = Int(argument("--streams") ?? "2") ?? 2
let secondsPerStream = Double(argument("--seconds") ?? "30") ?? 30
let chunkMilliseconds = Int(argument("--chunk-ms") ?? "320") ?? 320
let json = CommandLine.arguments.contains("--json")
let modelPath: String
do { modelPath = try argument("--model") ?? DefaultModel.path(log: { print($0) }) } catch { print("benchmark: \(error)"); exit(1) }
let model: SpeechModel
do { model = try SpeechModel(path: modelPath) } catch { print("benchmark: \(error)"); exit(1) }
let clip: [Float]
do { clip = try ModelInput.load(path: argument("--audio") ?? "Fixtures/clips/long-hy.wav", sampleRate: model.sampleRate) } catch { print("benchmark: \(error)"); exit(1) }

let chunk = model.sampleRate * chunkMilliseconds / 1000
let chunksPerStream = Int(secondsPerStream * 1000) / chunkMilliseconds

final class Results: @unchecked Sendable {
    let lock = NSLock()
    var latencies: [Double] = []
    var texts: [String] = []
    func add(_ values: [Double], _ text: String) { lock.withLock { latencies += values; texts.append(text) } }
}
let results = Results()
let group = DispatchGroup()
let started = DispatchTime.now().uptimeNanoseconds
for s in 0..<streamCount {
    group.enter()
    let thread = Thread {
        var stream = try! model.makeStream()
        var block = [Float](repeating: 0, count: chunk)
        var latencies: [Double] = []
        latencies.reserveCapacity(chunksPerStream)
        // Streams start at different places in the clip, as unrelated speakers would.
        var position = s * clip.count / max(1, streamCount)
        for _ in 0..<chunksPerStream {
            for i in 0..<chunk { block[i] = clip[(position + i) % clip.count] }
            position += chunk
            let t0 = DispatchTime.now().uptimeNanoseconds
            stream.feed(block)
            _ = stream.intermediate()
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        results.add(latencies, stream.finish())
        group.leave()
    }
    thread.stackSize = 8 << 20
    thread.start()
}
group.wait()
let wall = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
let sorted = results.latencies.sorted()
func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
let audio = Double(streamCount * chunksPerStream * chunk) / Double(model.sampleRate)
let row: [String: Any] = [
    "engine": "swift-deepspeech", "streams": streamCount, "audio_seconds": audio, "wall_seconds": wall,
    "audio_seconds_per_second": audio / wall, "chunk_p50_ms": percentile(0.5), "chunk_p99_ms": percentile(0.99),
    "peak_rss_mb": peakRSSMegabytes(), "kernel": SpeechModel.kernelDescription,
]
if json {
    let data = try! JSONSerialization.data(withJSONObject: row, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
} else {
    print(String(format: "swift-deepspeech: %d streams, %.0f s of audio in %.2f s: %.2f audio s per s; chunk p50 %.1f ms, p99 %.1f ms; peak RSS %.0f MB",
                 streamCount, audio, wall, audio / wall, percentile(0.5), percentile(0.99), peakRSSMegabytes()))
}
