import Foundation
import XCTest
import DeepSpeech
import TestSupport

/// The alpha/beta search decodes exactly as transcription with the same scorer does, scores
/// word errors correctly, and returns the grid best first.
final class AlphaBetaSearchTests: XCTestCase {
    func testSearchAgreesWithTranscriptionAndRanksByWordErrorRate() throws {
        let model = try SpeechModel(path: Fixtures.releasedModelPath())
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ds-tune-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // Transcripts (normalised as the test corpus) of four fixture clips, paths relative to the manifest.
        let rows = [("hy-08.wav", "ժամը քանիսն է ես ուշանում եմ աշխատանքի"), ("hy-12.wav", "շնորհակալություն օգնության համար մինչ հանդիպում"),
                    ("hy-04.wav", "իմ եղբայրը աշխատում է հիվանդանոցում"), ("hy-10.wav", "մայրիկս պատրաստել է համեղ ընթրիք")]
        for (clip, _) in rows {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(clip))
            try FileManager.default.copyItem(at: Fixtures.clips.appendingPathComponent(clip), to: directory.appendingPathComponent(clip))
        }
        let manifest = directory.appendingPathComponent("dev.csv").path
        try ("wav_filename,transcript\n" + rows.map { "\($0.0),\($0.1)" }.joined(separator: "\n") + "\n").write(toFile: manifest, atomically: true, encoding: .utf8)
        let clips = try AlphaBetaSearch.readManifest(manifest)
        XCTAssertEqual(clips.map(\.file), rows.map { directory.appendingPathComponent($0.0).path })

        let base = try LanguageModelScorer.load(path: Fixtures.path("Fixtures/lm/hy.scorer"), alphabet: model.alphabet)
        let search = try AlphaBetaSearch(model: model, clips: clips)
        // Independently: transcribe each clip with the same weights and count word errors.
        let scorer = base.with(alpha: 1.0, beta: 2.0)
        var errors = 0, words = 0
        for (clip, reference) in zip(clips, rows.map(\.1)) {
            let text = try model.transcribe(file: clip.file, options: DecodingOptions(beamWidth: 30, scorer: scorer)).text
            let ours = text.split(separator: " ").map(String.init), theirs = reference.split(separator: " ").map(String.init)
            errors += editDistance(ours, theirs)
            words += theirs.count
        }
        let result = try search.evaluate(scorer: scorer, beamWidth: 30)
        XCTAssertEqual(result.wordErrorRate, Double(errors) / Double(words), accuracy: 1e-12)

        let grid = try search.grid(base: base, alphas: 0...2, betas: 0...3, steps: 2, beamWidth: 30)
        XCTAssertEqual(grid.count, 4)
        XCTAssertEqual(Set(grid.map { "\($0.alpha),\($0.beta)" }), ["0.0,0.0", "0.0,3.0", "2.0,0.0", "2.0,3.0"])
        XCTAssertEqual(grid.map(\.wordErrorRate), grid.map(\.wordErrorRate).sorted())
        // The language model helps: the best pair uses it.
        XCTAssertGreaterThan(grid[0].alpha, 0)
        XCTAssertLessThan(grid[0].wordErrorRate, try search.evaluate(scorer: base.with(alpha: 0, beta: 0), beamWidth: 30).wordErrorRate)
    }
}
