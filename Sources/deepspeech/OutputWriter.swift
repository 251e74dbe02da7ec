import ArgumentParser
import DeepSpeech
import Foundation

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case txt, json, srt, vtt
}

/// Writes results to stdout in the chosen format, as they become available (one line or
/// block at a time, flushed, so a pipe sees each utterance or partial transcript at once).
final class OutputWriter {
    let format: OutputFormat
    /// Several files: prefix text lines with the file name, add "file" to JSON objects.
    let labelFiles: Bool
    private var cueIndex = 0
    private var headerWritten = false

    init(format: OutputFormat, labelFiles: Bool) {
        self.format = format
        self.labelFiles = labelFiles
    }

    /// A whole-file result (with the partial transcripts after each chunk under --stream).
    func write(_ result: Transcription, intermediate: [String]?, file: String) {
        switch format {
        case .txt:
            emit(labelFiles ? "\(file): \(result.text)" : result.text)
        case .json:
            struct Object: Encodable { var file: String?; var transcripts: [Candidate]; var intermediate: [String]? }
            emit(encode(Object(file: labelFiles ? file : nil, transcripts: result.candidates, intermediate: intermediate)))
        case .srt, .vtt:
            let words = result.candidates.first?.words ?? []
            writeCues(SubtitleCue.cues(from: words, until: words.isEmpty ? nil : result.audioSeconds))
        }
    }

    /// One utterance of a --segment run.
    func write(_ utterance: Utterance, file: String) {
        switch format {
        case .txt:
            guard !utterance.text.isEmpty else { return }
            let line = "[\(SubtitleFormat.vtt.timestamp(utterance.startTime)) --> \(SubtitleFormat.vtt.timestamp(utterance.endTime))] \(utterance.text)"
            emit(labelFiles ? "\(file): \(line)" : line)
        case .json:
            struct Object: Encodable {
                var file: String?
                var startTime: Double
                var endTime: Double
                var transcripts: [Candidate]
                enum CodingKeys: String, CodingKey { case file, startTime = "start_time", endTime = "end_time", transcripts }
            }
            emit(encode(Object(file: labelFiles ? file : nil, startTime: utterance.startTime, endTime: utterance.endTime,
                               transcripts: utterance.candidates)))
        case .srt, .vtt:
            guard !utterance.text.isEmpty else { return }
            writeCues(SubtitleCue.cues(from: utterance.candidates.first?.words ?? [], until: utterance.endTime))
        }
    }

    /// A partial transcript under --stream (text output only; JSON collects them instead).
    func writePartial(_ text: String) {
        guard format == .txt, !labelFiles else { return }
        emit(text)
    }

    /// Ends the output (a WebVTT file with no cues still gets its header).
    func finish() {
        if format == .vtt && !headerWritten { emit(SubtitleFormat.vtt.header, newline: false) }
    }

    private func writeCues(_ cues: [SubtitleCue]) {
        let subtitles: SubtitleFormat = format == .vtt ? .vtt : .srt
        if !headerWritten {
            headerWritten = true
            if !subtitles.header.isEmpty { emit(subtitles.header, newline: false) }
        }
        for cue in cues {
            cueIndex += 1
            emit(subtitles.render(cue, index: cueIndex), newline: false)
        }
    }

    private func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]   // deterministic
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private func emit(_ text: String, newline: Bool = true) {
        FileHandle.standardOutput.write(Data((newline ? text + "\n" : text).utf8))
    }
}

/// Progress of a long transcription on stderr: for audio longer than a minute, at most every
/// five seconds, as a line (or rewritten in place on a terminal).
final class ProgressReporter {
    let name: String
    let enabled: Bool
    private var lastReport = -Double.infinity
    private var reported = false
    private let terminal = isatty(2) != 0

    init(name: String, enabled: Bool) {
        self.name = name
        self.enabled = enabled
    }

    func report(_ progress: TranscriptionProgress) {
        guard enabled, let total = progress.totalSeconds, total > 60 else { return }
        let done = progress.processedSeconds >= total - 1e-6
        guard done || progress.elapsedSeconds - lastReport >= 5 else { return }
        lastReport = progress.elapsedSeconds
        reported = true
        let speed = progress.processedSeconds / max(progress.elapsedSeconds, 1e-9)
        let left = max(0, total - progress.processedSeconds) / max(speed, 1e-9)
        let line = String(format: "deepspeech: %@: %@ of %@ (%.0f%%), %.1fx real time, %@",
                          name, clock(progress.processedSeconds), clock(total), 100 * progress.processedSeconds / total, speed,
                          done ? "done" : "about \(clock(left)) left")
        FileHandle.standardError.write(Data((terminal ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    func finish() {
        if enabled && reported && terminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
