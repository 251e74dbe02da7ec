// Intermediate-decode latency of one long stream: feeds N minutes of audio (the fixture
// clip, repeated) in 320 ms chunks, as a live microphone would, and after every chunk asks
// for the intermediate transcript. Prints, after about 10 s and at the end (10 min by
// default), the median and 90th-percentile time of
//   - feed:          processing the chunk (features, acoustic model, decoder steps),
//   - intermediate:  `intermediate()` (best transcript so far),
//   - metadata:      `intermediateWithMetadata(candidates: 3)` (tokens, words, timings),
// and the peak RSS after one minute and at the end. Pinned to one core.
//
//   swift run -c release StreamingBenchmark [--model FILE] [--audio FILE] [--minutes N] [--chunk-ms MS] [--cpu K]
import BenchmarkSupport
import DeepSpeech
import Foundation
#if canImport(Glibc)
import Glibc
#endif

let cpu = argument("--cpu") ?? "0"
pinToCore(cpu)

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

struct Sample { var second: Double; var feed: Double; var intermediate: Double; var metadata: Double }

func summary(_ samples: [Sample], _ keyPath: KeyPath<Sample, Double>) -> String {
    let values = samples.map { $0[keyPath: keyPath] * 1000 }.sorted()
    guard !values.isEmpty else { return "-" }
    return String(format: "median %7.3f ms, p90 %7.3f ms", values[values.count / 2], values[min(values.count - 1, values.count * 9 / 10)])
}

let minutes = Double(argument("--minutes") ?? "10") ?? 10
let chunkMilliseconds = Int(argument("--chunk-ms") ?? "320") ?? 320
let modelPath: String
do { modelPath = try argument("--model") ?? DefaultModel.path(log: { print($0) }) } catch { print("benchmark: \(error)"); exit(1) }
let model: SpeechModel
do { model = try SpeechModel(path: modelPath) } catch { print("benchmark: \(error)"); exit(1) }
let clip: [Float]
do { clip = try ModelInput.load(path: argument("--audio") ?? "Fixtures/clips/long-hy.wav", sampleRate: model.sampleRate) } catch { print("benchmark: \(error)"); exit(1) }

let chunk = model.sampleRate * chunkMilliseconds / 1000
let totalChunks = Int(minutes * 60 * 1000) / chunkMilliseconds
print("streaming \(String(format: "%.1f", minutes)) min of audio in \(chunkMilliseconds) ms chunks (\(totalChunks) chunks), beam width \(model.defaultBeamWidth), CPU \(cpu)")

var stream = try! model.makeStream()
var samples: [Sample] = []
var rssAfterOneMinute = 0.0
var position = 0
var block = [Float](repeating: 0, count: chunk)
for k in 0..<totalChunks {
    for i in 0..<chunk { block[i] = clip[(position + i) % clip.count] }
    position += chunk
    let t0 = now()
    stream.feed(block)
    let t1 = now()
    let text = stream.intermediate()
    let t2 = now()
    let meta = stream.intermediateWithMetadata(candidates: 3)
    let t3 = now()
    precondition(meta.text == text)
    samples.append(Sample(second: Double(position) / Double(model.sampleRate), feed: t1 - t0, intermediate: t2 - t1, metadata: t3 - t2))
    if rssAfterOneMinute == 0 && samples.last!.second >= 60 { rssAfterOneMinute = peakRSSMegabytes() }
    if k % 300 == 299 { print(String(format: "  %6.0f s of audio, transcript %d characters", samples.last!.second, text.count)) }
}
let final = stream.finishWithMetadata()

let early = samples.filter { $0.second >= 5 && $0.second <= 15 }
let late = Array(samples.suffix(31))
let lateLabel = String(format: "after %.1f-%.1f min", late.first!.second / 60, late.last!.second / 60)
print("")
print("after 5-15 s:  feed \(summary(early, \.feed)) | intermediate \(summary(early, \.intermediate)) | with metadata \(summary(early, \.metadata))")
print("\(lateLabel): feed \(summary(late, \.feed)) | intermediate \(summary(late, \.intermediate)) | with metadata \(summary(late, \.metadata))")
func median(_ s: [Sample], _ k: KeyPath<Sample, Double>) -> Double { let v = s.map { $0[keyPath: k] }.sorted(); return v[v.count / 2] }
print(String(format: "ratio late/early (median): feed + intermediate %.2f, intermediate %.2f, with metadata %.2f",
             (median(late, \.feed) + median(late, \.intermediate)) / (median(early, \.feed) + median(early, \.intermediate)),
             median(late, \.intermediate) / median(early, \.intermediate), median(late, \.metadata) / median(early, \.metadata)))
print(String(format: "peak RSS: %.1f MB after 1 min of audio, %.1f MB at the end; final transcript %d characters",
             rssAfterOneMinute, peakRSSMegabytes(), final.text.count))
