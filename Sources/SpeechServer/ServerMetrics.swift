import Foundation

/// Counters behind `GET /metrics`, in Prometheus' text format (version 0.0.4).
///
/// Requests are counted by route and status, failures by cause ("bad_audio", "overloaded",
/// "timeout", …); transcriptions add their audio seconds and a real-time-factor histogram
/// (processing seconds / audio seconds).
public final class ServerMetrics: @unchecked Sendable {
    static let rtfBuckets: [Double] = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5]

    private let lock = NSLock()
    private var requests: [String: Int] = [:]          // "route|status"
    private var errors: [String: Int] = [:]            // cause
    private var audioSeconds = 0.0
    private var processingSeconds = 0.0
    private var rtfCounts = [Int](repeating: 0, count: rtfBuckets.count)
    private var rtfCount = 0
    private var rtfSum = 0.0
    private var openStreams = 0

    public init() {}

    public func request(route: String, status: Int) {
        lock.withLock { requests["\(route)|\(status)", default: 0] += 1 }
    }

    public func error(cause: String) {
        lock.withLock { errors[cause, default: 0] += 1 }
    }

    public func transcribed(audioSeconds audio: Double, processingSeconds processing: Double) {
        lock.withLock {
            audioSeconds += audio
            processingSeconds += processing
            guard audio > 0 else { return }
            let rtf = processing / audio
            for (i, bound) in Self.rtfBuckets.enumerated() where rtf <= bound { rtfCounts[i] += 1 }
            rtfCount += 1
            rtfSum += rtf
        }
    }

    public func streamOpened() { lock.withLock { openStreams += 1 } }
    public func streamClosed() { lock.withLock { openStreams -= 1 } }

    /// The exposition text; `queueDepth` and `busyWorkers` are read from the pool by the caller.
    public func render(queueDepth: Int, busyWorkers: Int, workers: Int) -> String {
        lock.withLock {
            var out = ""
            out += "# HELP deepspeech_requests_total HTTP requests answered, by route and status.\n"
            out += "# TYPE deepspeech_requests_total counter\n"
            for (key, count) in requests.sorted(by: { $0.key < $1.key }) {
                let pair = key.split(separator: "|", maxSplits: 1)
                out += "deepspeech_requests_total{route=\"\(pair[0])\",status=\"\(pair[1])\"} \(count)\n"
            }
            out += "# HELP deepspeech_errors_total Failed requests and streams, by cause.\n"
            out += "# TYPE deepspeech_errors_total counter\n"
            for (cause, count) in errors.sorted(by: { $0.key < $1.key }) {
                out += "deepspeech_errors_total{cause=\"\(cause)\"} \(count)\n"
            }
            out += "# HELP deepspeech_audio_seconds_total Seconds of audio transcribed.\n"
            out += "# TYPE deepspeech_audio_seconds_total counter\n"
            out += "deepspeech_audio_seconds_total \(audioSeconds)\n"
            out += "# HELP deepspeech_processing_seconds_total Worker seconds spent transcribing.\n"
            out += "# TYPE deepspeech_processing_seconds_total counter\n"
            out += "deepspeech_processing_seconds_total \(processingSeconds)\n"
            out += "# HELP deepspeech_real_time_factor Processing seconds per audio second, per transcription.\n"
            out += "# TYPE deepspeech_real_time_factor histogram\n"
            for (i, bound) in Self.rtfBuckets.enumerated() {
                out += "deepspeech_real_time_factor_bucket{le=\"\(bound)\"} \(rtfCounts[i])\n"
            }
            out += "deepspeech_real_time_factor_bucket{le=\"+Inf\"} \(rtfCount)\n"
            out += "deepspeech_real_time_factor_sum \(rtfSum)\n"
            out += "deepspeech_real_time_factor_count \(rtfCount)\n"
            out += "# HELP deepspeech_queue_depth Requests waiting for a worker.\n"
            out += "# TYPE deepspeech_queue_depth gauge\n"
            out += "deepspeech_queue_depth \(queueDepth)\n"
            out += "# HELP deepspeech_busy_workers Workers transcribing now (of deepspeech_workers).\n"
            out += "# TYPE deepspeech_busy_workers gauge\n"
            out += "deepspeech_busy_workers \(busyWorkers)\n"
            out += "# TYPE deepspeech_workers gauge\n"
            out += "deepspeech_workers \(workers)\n"
            out += "# HELP deepspeech_open_streams WebSocket and Wyoming streams open now.\n"
            out += "# TYPE deepspeech_open_streams gauge\n"
            out += "deepspeech_open_streams \(openStreams)\n"
            return out
        }
    }
}
