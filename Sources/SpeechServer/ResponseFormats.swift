import Foundation
import DeepSpeech

/// The `response_format`s of OpenAI's transcription API (and whisper.cpp's server, which
/// copies it), rendered from one transcription.
public enum TranscriptResponseFormat: String, Sendable, CaseIterable {
    case json
    case text
    case verboseJSON = "verbose_json"
    case srt
    case vtt

    /// The format a request names; `nil` for anything else.
    public init?(requested: String?) {
        guard let requested, !requested.isEmpty else { self = .json; return }
        self.init(rawValue: requested.lowercased())
    }

    public var contentType: String {
        switch self {
        case .json, .verboseJSON: return "application/json"
        case .text, .srt: return "text/plain; charset=utf-8"
        case .vtt: return "text/vtt; charset=utf-8"
        }
    }

    /// The body for `result`, in this format.
    /// - Parameter language: the model's language, reported by `verbose_json`.
    public func render(_ result: ServedTranscription, language: String) -> String {
        let candidate = result.transcription.candidates.first
        // Cues join every word, empty ones too, so a double space stays as the CLI prints it;
        // the word list leaves the empty ones out.
        let cues = SubtitleCue.cues(from: candidate?.words ?? [], until: result.audioSeconds)
        let words = candidate?.words.filter { !$0.word.isEmpty } ?? []
        switch self {
        case .json:
            return JSONText.encode(["text": result.text])
        case .text:
            return result.text + "\n"
        case .srt:
            return SubtitleFormat.srt.render(cues)
        case .vtt:
            return SubtitleFormat.vtt.render(cues)
        case .verboseJSON:
            // One segment per subtitle cue; avg_logprob spreads the candidate's score over its tokens.
            let tokenCount = max(1, candidate?.tokens.count ?? 1)
            let logprob = (candidate?.confidence ?? 0) / Double(tokenCount)
            let segments: [[String: Any]] = cues.enumerated().map { index, cue in
                ["id": index, "seek": 0, "start": cue.startTime, "end": cue.endTime, "text": cue.text,
                 "tokens": [Int](), "temperature": 0.0, "avg_logprob": logprob, "compression_ratio": 1.0, "no_speech_prob": 0.0]
            }
            let wordObjects: [[String: Any]] = words.map {
                ["word": $0.word, "start": $0.startTime, "end": roundedTime($0.startTime + $0.duration)]
            }
            return JSONText.encode(["task": "transcribe", "language": language, "duration": roundedTime(result.audioSeconds),
                                    "text": result.text, "segments": segments, "words": wordObjects])
        }
    }
}

func roundedTime(_ seconds: Double) -> Double { (seconds * 10_000).rounded() / 10_000 }

/// JSON bodies from dictionaries, keys sorted so answers are stable.
enum JSONText {
    static func encode(_ object: Any) -> String {
        guard JSONSerialization.isValidJSONObject(object),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func decode(_ bytes: [UInt8]) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }
}
