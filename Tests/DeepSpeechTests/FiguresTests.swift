import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import DeepSpeech
import TestSupport

/// The SVG figures are well-formed, carry their data, and label what they show.
final class FiguresTests: XCTestCase {
    final class Counter: NSObject, XMLParserDelegate {
        var elements: [String: Int] = [:]
        var texts: [String] = []
        private var inText = false
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            elements[name, default: 0] += 1
            inText = name == "text"
            if inText { texts.append("") }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { if inText { texts[texts.count - 1] += string } }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) { inText = false }
    }

    func testEveryFigureIsWellFormedSVGWithAxesAndData() throws {
        let model = try SpeechModel(path: Fixtures.releasedModelPath())
        let samples = try ModelInput.load(path: Fixtures.clips.appendingPathComponent("hy-02.wav").path, sampleRate: 16000)
        let recording = try model.record(samples)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ds-figures-\(getpid())").path
        let files = try Figures.write(recording, sampleRate: 16000, stepSeconds: model.secondsPerFrame, alphabet: model.alphabet, to: directory)
        XCTAssertEqual(files.first, "waveform.svg")
        XCTAssertEqual(files.last, "posteriorgram.svg")
        XCTAssertEqual(files.count, 12)
        let words = try XCTUnwrap(recording.transcription.candidates.first?.words.map(\.word))
        for file in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
            let parser = XMLParser(data: data)
            let counter = Counter()
            parser.delegate = counter
            XCTAssertTrue(parser.parse(), "\(file): not well-formed XML: \(String(describing: parser.parserError))")
            XCTAssertTrue(counter.texts.contains("time (s)"), "\(file) has no time axis")
            if file == "waveform.svg" {
                XCTAssertGreaterThan(counter.elements["polyline"] ?? 0, 0)
                for word in words { XCTAssertTrue(counter.texts.contains(word), "waveform lacks the word \(word)") }
            } else {
                // A heat map (an embedded PNG) and a colour bar (a second one).
                XCTAssertGreaterThanOrEqual(counter.elements["image"] ?? 0, 2, file)
                XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("data:image/png;base64,iVBORw0KGgo"), file)
            }
            if file == "posteriorgram.svg" {
                XCTAssertTrue(counter.texts.contains("blank") && counter.texts.contains("ա"), "posteriorgram lacks label names")
                XCTAssertEqual(counter.elements["circle"], recording.transcription.candidates.first?.tokens.count)
            }
            if file == "spectrogram.svg" { XCTAssertTrue(counter.texts.contains("8000") && counter.texts.contains("Hz")) }
        }
    }
}
