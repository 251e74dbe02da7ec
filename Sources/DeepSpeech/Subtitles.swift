import Foundation

/// One subtitle: a line of text shown from `startTime` to `endTime` (seconds).
public struct SubtitleCue: Sendable, Equatable, Codable {
    public var startTime: Double
    public var endTime: Double
    public var text: String

    public init(startTime: Double, endTime: Double, text: String) {
        self.startTime = startTime
        self.endTime = endTime
        self.text = text
    }

    /// Groups words into cues as subtitle guidelines suggest: a cue holds at most
    /// `maxCharacters` characters and lasts at most `maxDuration` seconds, and a silence of
    /// `breakAtGap` seconds or more between two words always starts a new cue.
    ///
    /// A cue runs from its first word's start to its last word's end, but is shown for at
    /// least `minimumDuration` seconds where the next cue leaves room. `until` (an utterance's
    /// end) extends the last cue to it.
    public static func cues(from words: [Word], until end: Double? = nil, maxCharacters: Int = 42,
                            maxDuration: Double = 7, breakAtGap: Double = 1.0,
                            minimumDuration: Double = 0.7) -> [SubtitleCue] {
        var cues: [SubtitleCue] = []
        var current: [Word] = []
        func close() {
            guard let first = current.first, let last = current.last else { return }
            cues.append(SubtitleCue(startTime: first.startTime, endTime: last.startTime + last.duration,
                                    text: current.map(\.word).joined(separator: " ")))
            current = []
        }
        for word in words {
            if let first = current.first, let last = current.last {
                let length = current.reduce(0) { $0 + $1.word.count + 1 } + word.word.count
                let gap = word.startTime - (last.startTime + last.duration)
                if length > maxCharacters || word.startTime + word.duration - first.startTime > maxDuration || gap >= breakAtGap {
                    close()
                }
            }
            current.append(word)
        }
        close()
        if let end, !cues.isEmpty { cues[cues.count - 1].endTime = max(cues[cues.count - 1].endTime, end) }
        for i in cues.indices {
            let limit = i + 1 < cues.count ? cues[i + 1].startTime : (end ?? .infinity)
            let wanted = cues[i].startTime + minimumDuration
            if cues[i].endTime < wanted { cues[i].endTime = max(cues[i].endTime, min(wanted, limit)) }
            cues[i].startTime = roundedSeconds(cues[i].startTime)
            cues[i].endTime = roundedSeconds(cues[i].endTime)
        }
        return cues
    }
}

/// Subtitle file formats: SubRip (`.srt`) and WebVTT (`.vtt`).
public enum SubtitleFormat: String, Sendable, CaseIterable {
    case srt
    case vtt

    /// What the file starts with ("WEBVTT" and a blank line for WebVTT).
    public var header: String { self == .vtt ? "WEBVTT\n\n" : "" }

    /// One cue block, numbered `index` (1-based), ending with a blank line.
    public func render(_ cue: SubtitleCue, index: Int) -> String {
        "\(index)\n\(timestamp(cue.startTime)) --> \(timestamp(cue.endTime))\n\(cue.text)\n\n"
    }

    /// A whole file.
    public func render(_ cues: [SubtitleCue]) -> String {
        header + cues.enumerated().map { render($0.element, index: $0.offset + 1) }.joined()
    }

    /// `HH:MM:SS,mmm` (SubRip) or `HH:MM:SS.mmm` (WebVTT).
    public func timestamp(_ seconds: Double) -> String {
        let milliseconds = Int((max(0, seconds) * 1000).rounded())
        let h = milliseconds / 3_600_000, m = milliseconds / 60_000 % 60, s = milliseconds / 1000 % 60, ms = milliseconds % 1000
        return String(format: "%02d:%02d:%02d%@%03d", h, m, s, self == .srt ? "," : ".", ms)
    }
}
