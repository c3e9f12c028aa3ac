// Training curves from a run's log.txt (the JSON lines the trainer writes): one panel per
// quantity group — loss (total, L_V, L_R), learning rate, teacher temperature, the teacher's
// per-sample entropy and KL, and the periodic evaluations (k-NN top-1, correspondence accuracy)
// as marked points — against the iteration, with ticks at round values, a grid, axis labels and
// a legend. The SVG (real text, any browser) is the primary output; the same panels rasterised
// with ESData's Canvas give the PNG.
import ESData
import Foundation

public struct Curves {
    public struct Series { public let name: String; public var points: [(x: Double, y: Double)] }
    public struct Panel {
        public let title: String, yLabel: String, markers: Bool
        public var series: [Series]
    }
    public let panels: [Panel]
    /// Every series of every panel, in drawing order.
    public var series: [Series] { panels.flatMap(\.series) }

    /// The panels and the log.txt fields each draws (a panel without any point is left out).
    static let layout: [(title: String, yLabel: String, markers: Bool, fields: [(key: String, name: String)])] = [
        ("Loss", "loss", false, [("loss", "total"), ("loss_view", "L_V (view)"), ("loss_region", "L_R (region)")]),
        ("Learning rate", "lr", false, [("lr", "learning rate")]),
        ("Teacher temperature", "temperature", false, [("teacher_temp", "teacher temperature")]),
        ("Teacher outputs (view head)", "nats", false, [("teacher_sample_entropy_view", "entropy per sample"),
                                                        ("kl_view", "KL(teacher, student)")]),
        ("Evaluation of the teacher", "%", true, [("knn_top1", "k-NN top-1"), ("corr_acc", "correspondence accuracy")]),
    ]

    /// Reads log.txt; lines without "iteration" (epoch summaries) are skipped.
    public init(logText: String) throws {
        var p = Curves.layout.map { Panel(title: $0.title, yLabel: $0.yLabel, markers: $0.markers,
                                          series: $0.fields.map { Series(name: $0.name, points: []) }) }
        for line in logText.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let it = (o["iteration"] as? NSNumber)?.doubleValue else { continue }
            for (i, panel) in Curves.layout.enumerated() {
                for (j, f) in panel.fields.enumerated() {
                    if let v = (o[f.key] as? NSNumber)?.doubleValue, v.isFinite { p[i].series[j].points.append((it, v)) }
                }
            }
        }
        for i in p.indices {
            p[i].series.removeAll { $0.points.isEmpty }
            for j in p[i].series.indices { p[i].series[j].points = Curves.lastPerIteration(p[i].series[j].points) }
        }
        panels = p.filter { !$0.series.isEmpty }
        guard !panels.isEmpty else { throw TrainError.data("no training metrics found in the log (expected JSON lines with \"iteration\" and \"loss\")") }
    }

    /// One point per iteration, the last one logged, in iteration order: a run resumed after a
    /// crash logs the iterations after its checkpoint again (log.txt is appended to).
    static func lastPerIteration(_ points: [(x: Double, y: Double)]) -> [(x: Double, y: Double)] {
        var last: [Double: Int] = [:]
        for (i, p) in points.enumerated() { last[p.x] = i }
        return points.indices.filter { last[points[$0].x] == $0 }.map { points[$0] }.sorted { $0.x < $1.x }
    }

    // MARK: axes

    /// An axis: its range (widened to round values) and the ticks inside it.
    public struct Axis {
        public let lo: Double, hi: Double, ticks: [Double], step: Double
        /// Ticks every 1, 2 or 5 × 10^k, about `count` of them, over [a, b] widened to the ticks
        /// around it (`tight`: the range stays [a, b], the ticks are those inside it).
        public init(_ a: Double, _ b: Double, count: Int = 5, tight: Bool = false) {
            var a = a, b = b
            if b - a < 1e-12 * max(abs(a), abs(b), 1e-300) { let d = max(abs(a) * 0.1, 1e-12); a -= d; b += d }
            let raw = (b - a) / Double(max(count - 1, 1)), mag = pow(10, (log10(raw)).rounded(.down))
            let s = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw * 0.999 } ?? 10 * mag
            let l = (a / s + 1e-9).rounded(.down) * s, h = (b / s - 1e-9).rounded(.up) * s   // 96.00000000000001 steps are 96
            step = s; lo = tight ? a : min(l, a); hi = tight ? b : max(h, b)
            ticks = (0...Int(((h - l) / s).rounded())).map { l + Double($0) * s }.filter { !tight || ($0 >= a - 1e-9 * s && $0 <= b + 1e-9 * s) }
        }
        public func fraction(_ v: Double) -> Double { (v - lo) / (hi - lo) }
        /// A tick's label with as many digits as the step needs: fixed-point, or scientific when
        /// the axis is below 1e-3 or above 1e6 (the mantissa then carries the step's digits).
        public func label(_ v: Double) -> String {
            let v = (v / step).rounded() * step   // a tick computed as 0.00999… is 0.01
            if v == 0 || abs(v) < step * 1e-6 { return "0" }
            let big = max(abs(lo), abs(hi)), stepExponent = Axis.exponent(step)
            if big < 1e-3 || big >= 1e6 {
                let e = Axis.exponent(v)
                return String(format: "%.\(max(0, e - stepExponent))f", v / pow(10, Double(e))) + "e\(e)"
            }
            return String(format: "%.\(max(0, -stepExponent))f", v)
        }
        /// ⌊log10 |v|⌋, robust to log10 landing just below an exact power of ten.
        static func exponent(_ v: Double) -> Int { Int((log10(abs(v)) + 1e-9).rounded(.down)) }
    }

    var xAxis: Axis {
        let xs = series.flatMap { $0.points.map(\.x) }
        return Axis(min(xs.min() ?? 0, 0), max(xs.max() ?? 1, 1), count: 6, tight: true)
    }

    func yAxis(_ p: Panel) -> Axis {
        let ys = p.series.flatMap { $0.points.map(\.y) }
        return Axis(ys.min()!, ys.max()!, count: 5)
    }

    /// "first → last" of a series, for its legend.
    static func span(_ s: Series) -> String {
        func f(_ v: Double) -> String { abs(v) >= 1e-3 && abs(v) < 1e4 || v == 0 ? String(format: "%.4g", v) : String(format: "%.2e", v) }
        return s.points.count == 1 ? f(s.points[0].y) : "\(f(s.points.first!.y)) → \(f(s.points.last!.y))"
    }

    static let colors: [(hex: String, rgb: Canvas.Color)] = [("#1f77b4", (31, 119, 180)), ("#ff7f0e", (255, 127, 14)),
                                                            ("#2ca02c", (44, 160, 44)), ("#d62728", (214, 39, 40))]

    // MARK: SVG

    /// The SVG document: a title, then the panels one above the other on a shared iteration axis.
    public func svg(title: String, width: Int = 760, panelHeight: Int = 170) -> String {
        let left = 78.0, right = 24.0, top = 44.0, gap = 64.0
        let pw = Double(width) - left - right, ph = Double(panelHeight)
        let height = Int(top + Double(panels.count) * (ph + gap))
        let xa = xAxis
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        func n(_ v: Double) -> String { String(format: "%.1f", v) }
        var out = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" font-family=\"sans-serif\" font-size=\"11\">",
                   "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
                   "<text x=\"\(n(left))\" y=\"22\" font-size=\"14\">\(esc(title))</text>"]
        for (i, p) in panels.enumerated() {
            let y0 = top + Double(i) * (ph + gap), ya = yAxis(p)
            func px(_ x: Double) -> Double { left + xa.fraction(x) * pw }
            func py(_ y: Double) -> Double { y0 + ph - ya.fraction(y) * ph }
            out.append("<g class=\"panel\" data-title=\"\(esc(p.title))\">")
            out.append("<text x=\"\(n(left))\" y=\"\(n(y0 - 8))\" font-size=\"12\" font-weight=\"bold\">\(esc(p.title))</text>")
            for t in xa.ticks {
                out.append("<line class=\"grid\" x1=\"\(n(px(t)))\" y1=\"\(n(y0))\" x2=\"\(n(px(t)))\" y2=\"\(n(y0 + ph))\" stroke=\"#e5e5e5\"/>")
                out.append("<text class=\"tick\" x=\"\(n(px(t)))\" y=\"\(n(y0 + ph + 14))\" text-anchor=\"middle\">\(xa.label(t))</text>")
            }
            for t in ya.ticks {
                out.append("<line class=\"grid\" x1=\"\(n(left))\" y1=\"\(n(py(t)))\" x2=\"\(n(left + pw))\" y2=\"\(n(py(t)))\" stroke=\"#e5e5e5\"/>")
                out.append("<text class=\"tick\" x=\"\(n(left - 5))\" y=\"\(n(py(t) + 4))\" text-anchor=\"end\">\(ya.label(t))</text>")
            }
            out.append("<rect x=\"\(n(left))\" y=\"\(n(y0))\" width=\"\(n(pw))\" height=\"\(n(ph))\" fill=\"none\" stroke=\"#666\"/>")
            out.append("<text x=\"\(n(left + pw / 2))\" y=\"\(n(y0 + ph + 30))\" text-anchor=\"middle\">iteration</text>")
            out.append("<text transform=\"translate(\(n(left - 56)),\(n(y0 + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(esc(p.yLabel))</text>")
            for (j, s) in p.series.enumerated() {
                let c = Curves.colors[j % Curves.colors.count].hex
                let pts = s.points.map { "\(n(px($0.x))),\(n(py($0.y)))" }.joined(separator: " ")
                out.append("<polyline data-series=\"\(esc(s.name))\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.5\" points=\"\(pts)\"/>")
                if p.markers || s.points.count == 1 {
                    for q in s.points { out.append("<circle class=\"marker\" cx=\"\(n(px(q.x)))\" cy=\"\(n(py(q.y)))\" r=\"3\" fill=\"\(c)\"/>") }
                }
                let ly = y0 + 14 + Double(j) * 14
                out.append("<line x1=\"\(n(left + 8))\" y1=\"\(n(ly - 4))\" x2=\"\(n(left + 26))\" y2=\"\(n(ly - 4))\" stroke=\"\(c)\" stroke-width=\"2\"/>")
                out.append("<text class=\"legend\" x=\"\(n(left + 30))\" y=\"\(n(ly))\" fill=\"#333\">\(esc(s.name)): \(esc(Curves.span(s)))</text>")
            }
            out.append("</g>")
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    // MARK: raster (PNG)

    /// The same panels as a raster image: grid, ticks, curves, markers, legend (bitmap font).
    public func raster(width: Int = 760, panelHeight: Int = 170) -> RGBImage {
        let left = 96, right = 24, top = 20, gap = 60
        let pw = width - left - right
        var canvas = Canvas(width: width, height: top + panels.count * (panelHeight + gap))
        let xa = xAxis
        let grid: Canvas.Color = (229, 229, 229), frame: Canvas.Color = (102, 102, 102), ink: Canvas.Color = (51, 51, 51)
        for (i, p) in panels.enumerated() {
            let y0 = top + 14 + i * (panelHeight + gap), ya = yAxis(p)
            func px(_ x: Double) -> Int { left + Int((xa.fraction(x) * Double(pw)).rounded()) }
            func py(_ y: Double) -> Int { y0 + panelHeight - Int((ya.fraction(y) * Double(panelHeight)).rounded()) }
            canvas.text(p.title, x: left, y: y0 - 14, ink)
            for t in xa.ticks {
                canvas.line(px(t), y0, px(t), y0 + panelHeight, grid)
                let s = xa.label(t)
                canvas.text(s, x: px(t) - s.count * Canvas.advance / 2, y: y0 + panelHeight + 5, ink)
            }
            for t in ya.ticks {
                canvas.line(left, py(t), left + pw, py(t), grid)
                let s = ya.label(t)
                canvas.text(s, x: left - 6 - s.count * Canvas.advance, y: py(t) - 5, ink)
            }
            canvas.frame(x: left, y: y0, width: pw + 1, height: panelHeight + 1, frame)
            canvas.text("iteration", x: left + pw / 2 - 36, y: y0 + panelHeight + 20, ink)
            for (j, s) in p.series.enumerated() {
                let c = Curves.colors[j % Curves.colors.count].rgb
                var prev: (Int, Int)? = nil
                for q in s.points {
                    let a = (px(q.x), py(q.y))
                    if let b = prev { canvas.line(b.0, b.1, a.0, a.1, c) }
                    if p.markers || s.points.count == 1 { canvas.disc(a.0, a.1, radius: 3, c) }
                    prev = a
                }
                let ly = y0 + 6 + j * 14
                canvas.fill(x: left + 8, y: ly + 4, width: 18, height: 2, c)
                canvas.text("\(s.name): \(Curves.span(s).replacingOccurrences(of: "→", with: "->"))", x: left + 30, y: ly, ink, box: (255, 255, 255))
            }
        }
        return canvas.image
    }
}
