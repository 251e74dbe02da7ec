/// Why an audio file could not be turned into samples. Every case names the file, so a batch
/// job over a directory can print one readable line per bad file and carry on.
public struct AudioError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Problem: Sendable, Equatable {
        /// The file does not exist or cannot be opened for reading.
        case unreadable(String)
        /// The file has zero bytes.
        case empty
        /// A header promises more audio than the file holds.
        case truncated(expectedBytes: Int, actualBytes: Int)
        /// The file is something other than audio (the text says what it looks like).
        case notAudio(String)
        /// The container or encoding is not one libsndfile can decode.
        case unsupported(String)
        /// The header is valid but there are no sample frames.
        case noSamples
        /// A sample is not a number (NaN or ±infinity) in a floating-point file; the text says
        /// which one and where.
        case nonFiniteSample(String)
        /// A caller asked for something impossible (a zero sample rate, say).
        case invalidArgument(String)
    }

    public let path: String
    public let problem: Problem

    public init(path: String, problem: Problem) {
        self.path = path
        self.problem = problem
    }

    public var description: String {
        switch problem {
        case .unreadable(let why): return "\(path): cannot read the file (\(why))"
        case .empty: return "\(path): the file is empty (0 bytes)"
        case .truncated(let expected, let actual):
            return "\(path): truncated audio file: the header declares \(expected) bytes of audio data but only \(actual) are present"
        case .notAudio(let what): return "\(path): not an audio file (\(what))"
        case .unsupported(let why): return "\(path): unsupported audio format (\(why))"
        case .noSamples: return "\(path): the audio file contains no samples"
        case .nonFiniteSample(let which): return "\(path): invalid audio: \(which)"
        case .invalidArgument(let why): return "\(path): \(why)"
        }
    }
}
