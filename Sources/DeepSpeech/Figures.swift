import Foundation

/// SVG figures of an ``ActivationRecording``, with no dependency: axes in seconds, Hz or
/// labels, a colour bar on every heat map, raster data embedded as PNG.
///
/// - `waveform.svg`: the samples with the best transcript's word boundaries;
/// - `spectrogram.svg`: power in dB over time and frequency;
/// - `mfcc.svg`: the MFCC frames;
/// - `layer_1.svg` … `layer_6.svg`: each layer's output (units on the vertical axis,
///   averaged in groups when there are more than 256);
///
/// Heat maps are coloured between the 1st and 99th percentile of their values (the colour
/// bar shows the range).
/// - `posteriorgram.svg`: the probability of each label over time, with the decoded tokens
///   (circles) and the words (bands on top).
public enum Figures {
    /// Writes every figure into `directory` and returns the file names, in pipeline order.
    @discardableResult
    public static func write(_ recording: ActivationRecording, sampleRate: Int, stepSeconds: Double,
                             alphabet: Alphabet, to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [String] = []
        func save(_ name: String, _ svg: String) throws {
            try Data(svg.utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent(name))
            written.append(name)
        }
        let words = recording.transcription.candidates.first?.words ?? []
        if let samples = recording["samples"] {
            try save("waveform.svg", waveform(samples.values, sampleRate: sampleRate, words: words))
        }
        if let power = recording["power_spectrum"] {
            let bins = power.shape[1]
            let decibels = power.values.map { 10 * log10(max($0, 1e-10)) }
            try save("spectrogram.svg", heatMap(title: "Power spectrum (dB), \(power.shape[0]) frames × \(bins) FFT bins",
                                                values: decibels, rows: power.shape[0], columns: bins, stepSeconds: stepSeconds,
                                                yAxis: .range(0, Double(sampleRate) / 2, unit: "Hz"), colourLabel: "dB",
                                                clampLow: -100))
        }
        if let mfcc = recording["mfcc"] {
            try save("mfcc.svg", heatMap(title: "MFCC, \(mfcc.shape[1]) coefficients per 20 ms frame", values: mfcc.values,
                                         rows: mfcc.shape[0], columns: mfcc.shape[1], stepSeconds: stepSeconds,
                                         yAxis: .range(-0.5, Double(mfcc.shape[1]) - 0.5, unit: "coefficient"), colourLabel: "value"))
        }
        // Stages with more rows than output steps (DeepSpeech2's 10 ms spectrogram frames) get a
        // proportionally shorter step, so every figure spans the same time.
        let outputSteps = recording["probabilities"]?.shape.first ?? 0
        for stage in recording.stages where stage.shape.count == 2 && !["power_spectrum", "mfcc", "probabilities"].contains(stage.name) {
            let step = outputSteps > 0 && stage.shape[0] > 0 ? stepSeconds * Double(outputSteps) / Double(stage.shape[0]) : stepSeconds
            if stage.name == "spectrogram" {
                try save("spectrogram.svg", heatMap(title: "Log spectrogram (normalised), \(stage.shape[0]) frames × \(stage.shape[1]) bins",
                                                    values: stage.values, rows: stage.shape[0], columns: stage.shape[1], stepSeconds: step,
                                                    yAxis: .range(0, Double(sampleRate) / 2, unit: "Hz"), colourLabel: "value"))
                continue
            }
            try save("\(stage.name).svg", heatMap(title: "\(stage.name): \(stage.description), \(stage.shape[1]) units",
                                                 values: stage.values, rows: stage.shape[0], columns: stage.shape[1],
                                                 stepSeconds: step, yAxis: .range(-0.5, Double(stage.shape[1]) - 0.5, unit: "unit"),
                                                 colourLabel: "activation"))
        }
        if let probabilities = recording["probabilities"] {
            try save("posteriorgram.svg", posteriorgram(probabilities, alphabet: alphabet, stepSeconds: stepSeconds,
                                                        candidate: recording.transcription.candidates.first))
        }
        return written
    }

    // MARK: - Figures

    static let width = 1000.0, plotLeft = 70.0, plotRight = 880.0, plotTop = 40.0

    enum Axis {
        case range(Double, Double, unit: String)
        case labels([String])
    }

    static func waveform(_ samples: [Float], sampleRate: Int, words: [Word]) -> String {
        let height = 300.0, bottom = 250.0
        let duration = Double(samples.count) / Double(sampleRate)
        var svg = SVG(width: width, height: height)
        svg.text(width / 2, 22, "Waveform (\(String(format: "%.2f", duration)) s at \(sampleRate) Hz) with the recognised words", size: 15, anchor: "middle", bold: true)
        let columns = Int(plotRight - plotLeft)
        let peak = max(samples.map { abs($0) }.max() ?? 1, 1e-6)
        let mid = (plotTop + bottom) / 2, half = (bottom - plotTop) / 2
        for (i, w) in words.enumerated() {
            let x0 = plotLeft + w.startTime / duration * (plotRight - plotLeft)
            let x1 = plotLeft + min(duration, w.startTime + max(w.duration, 0.02)) / duration * (plotRight - plotLeft)
            svg.rect(x0, plotTop, max(1, x1 - x0), bottom - plotTop, fill: i % 2 == 0 ? "#fde9c9" : "#d9ecf7")
            svg.line(x0, plotTop, x0, bottom, stroke: "#c07000", width: 1)
            svg.text(x0 + 2, plotTop + 14 + Double(i % 2) * 14, w.word, size: 12)
        }
        var points: [(Double, Double)] = []
        for c in 0..<columns {
            let a = samples.count * c / columns, b = max(a + 1, samples.count * (c + 1) / columns)
            var lo: Float = 0, hi: Float = 0
            for i in a..<min(b, samples.count) { lo = min(lo, samples[i]); hi = max(hi, samples[i]) }
            let x = plotLeft + Double(c) + 0.5
            points.append((x, mid - Double(hi / peak) * half))
            points.append((x, mid - Double(lo / peak) * half))
        }
        svg.polyline(points, stroke: "#1f4e79", width: 0.8)
        svg.frame(plotLeft, plotTop, plotRight, bottom)
        timeAxis(&svg, duration: duration, y: bottom)
        svg.text(18, mid, "amplitude (peak \(String(format: "%.3f", peak)))", size: 12, anchor: "middle", rotate: true)
        return svg.finish()
    }

    static func heatMap(title: String, values: [Float], rows steps: Int, columns units: Int, stepSeconds: Double,
                        yAxis: Axis, colourLabel: String, clampLow: Float? = nil, height: Double = 420) -> String {
        let bottom = height - 50
        var svg = SVG(width: width, height: height)
        svg.text(width / 2, 22, title, size: 15, anchor: "middle", bold: true)
        // Image: one pixel column per step, one row per unit (groups of units averaged above 256).
        let group = max(1, (units + 255) / 256)
        let imageRows = (units + group - 1) / group
        var grid = [Float](repeating: 0, count: steps * imageRows)
        for t in 0..<steps {
            for r in 0..<imageRows {
                var sum: Float = 0, n: Float = 0
                for u in (r * group)..<min(units, (r + 1) * group) { sum += values[t * units + u]; n += 1 }
                grid[r * steps + t] = sum / max(n, 1)
            }
        }
        // Colour limits from the 1st and 99th percentiles, so a few extreme values (MFCC 0 in
        // silence, say) do not wash out the rest; values beyond them take the end colours.
        let sorted = grid.filter { !$0.isNaN }.sorted()
        var lo = sorted.isEmpty ? 0 : sorted[sorted.count / 100]
        var hi = sorted.isEmpty ? 1 : sorted[sorted.count - 1 - sorted.count / 100]
        if let clampLow { lo = max(lo, clampLow) }
        if hi <= lo { hi = lo + 1 }
        // Row 0 of the image is the top: the highest unit.
        var pixels = [UInt8](repeating: 0, count: steps * imageRows * 3)
        for r in 0..<imageRows {
            for t in 0..<steps {
                let c = colour((grid[(imageRows - 1 - r) * steps + t] - lo) / (hi - lo))
                let p = (r * steps + t) * 3
                pixels[p] = c.0; pixels[p + 1] = c.1; pixels[p + 2] = c.2
            }
        }
        svg.image(plotLeft, plotTop, plotRight - plotLeft, bottom - plotTop, png: PNG.rgb(width: steps, height: imageRows, pixels: pixels))
        svg.frame(plotLeft, plotTop, plotRight, bottom)
        timeAxis(&svg, duration: Double(steps) * stepSeconds, y: bottom)
        verticalAxis(&svg, yAxis, top: plotTop, bottom: bottom)
        if group > 1 { svg.text(plotLeft, height - 8, "rows averaged in groups of \(group) to fit", size: 11) }
        colourBar(&svg, lo: lo, hi: hi, label: colourLabel, top: plotTop, bottom: bottom)
        return svg.finish()
    }

    static func posteriorgram(_ probabilities: RecordedTensor, alphabet: Alphabet, stepSeconds: Double, candidate: Candidate?) -> String {
        let steps = probabilities.shape[0], classes = probabilities.shape[1]
        let height = 760.0, bottom = height - 50
        var svg = SVG(width: width, height: height)
        svg.text(width / 2, 22, "CTC posteriorgram: P(label) per 20 ms step; circles: the tokens at the timesteps the decoder reports; words above", size: 15, anchor: "middle", bold: true)
        let top = plotTop + 30
        var pixels = [UInt8](repeating: 0, count: steps * classes * 3)
        for r in 0..<classes {
            for t in 0..<steps {
                let c = colour(probabilities.values[t * classes + r])
                let p = (r * steps + t) * 3
                pixels[p] = c.0; pixels[p + 1] = c.1; pixels[p + 2] = c.2
            }
        }
        svg.image(plotLeft, top, plotRight - plotLeft, bottom - top, png: PNG.rgb(width: steps, height: classes, pixels: pixels))
        let rowHeight = (bottom - top) / Double(classes), colWidth = (plotRight - plotLeft) / Double(steps)
        var labels = (0..<(classes - 1)).map { alphabet.label($0) == " " ? "␣" : alphabet.label($0) }
        labels.append("blank")
        for (r, label) in labels.enumerated() {
            svg.text(plotLeft - 6, top + (Double(r) + 0.75) * rowHeight, label, size: 10, anchor: "end")
        }
        if let candidate {
            for token in candidate.tokens {
                let label = alphabet.labels.firstIndex(of: token.text) ?? (classes - 1)
                svg.circle(plotLeft + (Double(token.timestep) + 0.5) * colWidth, top + (Double(label) + 0.5) * rowHeight,
                           radius: max(3, rowHeight / 2), stroke: "#ff3030")
            }
            let duration = Double(steps) * stepSeconds
            for (i, w) in candidate.words.enumerated() {
                let x0 = plotLeft + w.startTime / duration * (plotRight - plotLeft)
                let x1 = plotLeft + min(duration, w.startTime + max(w.duration, stepSeconds)) / duration * (plotRight - plotLeft)
                svg.rect(x0, plotTop, max(1, x1 - x0), 24, fill: i % 2 == 0 ? "#fde9c9" : "#d9ecf7")
                svg.text(x0 + 2, plotTop + 16, w.word, size: 12)
            }
        }
        svg.frame(plotLeft, top, plotRight, bottom)
        timeAxis(&svg, duration: Double(steps) * stepSeconds, y: bottom)
        colourBar(&svg, lo: 0, hi: 1, label: "probability", top: top, bottom: bottom)
        return svg.finish()
    }

    // MARK: - Axes and colours

    static func timeAxis(_ svg: inout SVG, duration: Double, y: Double) {
        let tick = niceStep(duration / 8)
        var t = 0.0
        while t <= duration + 1e-9 {
            let x = plotLeft + t / max(duration, 1e-9) * (plotRight - plotLeft)
            svg.line(x, y, x, y + 5, stroke: "#333", width: 1)
            svg.text(x, y + 18, tick < 1 ? String(format: "%.1f", t) : String(format: "%.0f", t), size: 11, anchor: "middle")
            t += tick
        }
        svg.text((plotLeft + plotRight) / 2, y + 36, "time (s)", size: 12, anchor: "middle")
    }

    static func verticalAxis(_ svg: inout SVG, _ axis: Axis, top: Double, bottom: Double) {
        guard case let .range(lo, hi, unit) = axis else { return }
        let tick = niceStep((hi - lo) / 6)
        var v = (lo / tick).rounded(.up) * tick
        while v <= hi + 1e-9 {
            let y = bottom - (v - lo) / max(hi - lo, 1e-9) * (bottom - top)
            svg.line(plotLeft - 5, y, plotLeft, y, stroke: "#333", width: 1)
            svg.text(plotLeft - 8, y + 4, String(format: "%g", v), size: 11, anchor: "end")
            v += tick
        }
        svg.text(16, (top + bottom) / 2, unit, size: 12, anchor: "middle", rotate: true)
    }

    static func colourBar(_ svg: inout SVG, lo: Float, hi: Float, label: String, top: Double, bottom: Double) {
        let x = plotRight + 30, barWidth = 16.0, steps = 64
        var pixels = [UInt8](repeating: 0, count: steps * 3)
        for i in 0..<steps {
            let c = colour(Float(steps - 1 - i) / Float(steps - 1))
            pixels[i * 3] = c.0; pixels[i * 3 + 1] = c.1; pixels[i * 3 + 2] = c.2
        }
        svg.image(x, top, barWidth, bottom - top, png: PNG.rgb(width: 1, height: steps, pixels: pixels))
        svg.frame(x, top, x + barWidth, bottom)
        for i in 0...4 {
            let f = Double(i) / 4
            let y = bottom - f * (bottom - top)
            svg.line(x + barWidth, y, x + barWidth + 4, y, stroke: "#333", width: 1)
            svg.text(x + barWidth + 6, y + 4, String(format: "%.3g", Double(lo) + f * Double(hi - lo)), size: 10)
        }
        svg.text(x + barWidth / 2, top - 8, label, size: 11, anchor: "middle")
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0 else { return 1 }
        let magnitude = pow(10, floor(log10(raw)))
        for m in [1.0, 2.0, 5.0, 10.0] where raw <= m * magnitude { return m * magnitude }
        return 10 * magnitude
    }

    /// Viridis, interpolated between 6 stops; `f` in [0, 1] (clamped).
    static func colour(_ f: Float) -> (UInt8, UInt8, UInt8) {
        let stops: [(Float, Float, Float)] = [(68, 1, 84), (65, 68, 135), (42, 120, 142), (34, 168, 132), (122, 209, 81), (253, 231, 37)]
        let x = min(max(f.isNaN ? 0 : f, 0), 1) * Float(stops.count - 1)
        let i = min(Int(x), stops.count - 2), w = x - Float(i)
        let a = stops[i], b = stops[i + 1]
        return (UInt8(a.0 + (b.0 - a.0) * w), UInt8(a.1 + (b.1 - a.1) * w), UInt8(a.2 + (b.2 - a.2) * w))
    }
}

/// A minimal SVG writer.
struct SVG {
    private var parts: [String]

    init(width: Double, height: Double) {
        parts = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"DejaVu Sans, Arial, sans-serif\">",
                 "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>"]
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String) {
        parts.append(String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"/>", x, y, w, h, fill))
    }

    mutating func frame(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double) {
        parts.append(String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>", x0, y0, x1 - x0, y1 - y0))
    }

    mutating func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, stroke: String, width: Double) {
        parts.append(String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"%.1f\"/>", x0, y0, x1, y1, stroke, width))
    }

    mutating func circle(_ x: Double, _ y: Double, radius: Double, stroke: String) {
        parts.append(String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"none\" stroke=\"%@\" stroke-width=\"1.5\"/>", x, y, radius, stroke))
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double) {
        let list = points.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ")
        parts.append("<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(width)\"/>")
    }

    mutating func text(_ x: Double, _ y: Double, _ s: String, size: Double, anchor: String = "start", bold: Bool = false, rotate: Bool = false) {
        let transform = rotate ? String(format: " transform=\"rotate(-90 %.1f %.1f)\"", x, y) : ""
        parts.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" text-anchor=\"%@\"%@%@>", x, y, size, anchor,
                            bold ? " font-weight=\"bold\"" : "", transform) + Self.escape(s) + "</text>")
    }

    mutating func image(_ x: Double, _ y: Double, _ w: Double, _ h: Double, png: Data) {
        parts.append(String(format: "<image x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,", x, y, w, h)
                     + png.base64EncodedString() + "\"/>")
    }

    func finish() -> String { (parts + ["</svg>"]).joined(separator: "\n") + "\n" }
}

/// A minimal PNG encoder: 8-bit RGB, zlib stream of stored (uncompressed) blocks.
enum PNG {
    static func rgb(width: Int, height: Int, pixels: [UInt8]) -> Data {
        precondition(pixels.count == width * height * 3)
        var raw: [UInt8] = []
        raw.reserveCapacity((width * 3 + 1) * height)
        for y in 0..<height {
            raw.append(0)   // filter: none
            raw.append(contentsOf: pixels[(y * width * 3)..<((y + 1) * width * 3)])
        }
        var zlib: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65535, raw.count - offset)
            let last: UInt8 = offset + n >= raw.count ? 1 : 0
            zlib += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            zlib += raw[offset..<(offset + n)]
            offset += n
        } while offset < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        zlib += bigEndian((b << 16) | a)

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ body: [UInt8]) {
            png += bigEndian(UInt32(body.count))
            let typed = Array(type.utf8) + body
            png += typed
            png += bigEndian(CRC32.checksum(typed[...]))
        }
        chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 2, 0, 0, 0])
        chunk("IDAT", zlib)
        chunk("IEND", [])
        return Data(png)
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
}
