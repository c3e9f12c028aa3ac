// Training curves from a run's log.txt (the JSON lines the trainer writes) as one SVG: a panel
// per series — loss, L_V, L_R, lr, teacher temperature, and k-NN top-1 (and correspondence
// accuracy) when periodic evaluation ran — against the iteration, each with its own y range and the first/last values labelled.
// The same layout rasterised (for PNG) draws with ESData's Canvas.
import ESData
import Foundation

public struct Curves {
    public struct Series { public let name: String; public var points: [(x: Double, y: Double)] }
    public let series: [Series]

    static let fields: [(key: String, name: String)] = [("loss", "loss"), ("loss_view", "L_V (view)"), ("loss_region", "L_R (region)"),
                                                         ("lr", "learning rate"), ("teacher_temp", "teacher temperature"),
                                                         ("teacher_sample_entropy_view", "teacher entropy per sample (view)"),
                                                         ("kl_view", "KL(teacher, student) (view)"), ("knn_top1", "k-NN top-1 (%)"),
                                                         ("corr_acc", "correspondence accuracy (%)")]

    /// Reads log.txt; series without any point are left out.
    public init(logText: String) throws {
        var s = Curves.fields.map { Series(name: $0.name, points: []) }
        for line in logText.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let it = (o["iteration"] as? NSNumber)?.doubleValue else { continue }
            for (i, f) in Curves.fields.enumerated() {
                if let v = (o[f.key] as? NSNumber)?.doubleValue, v.isFinite { s[i].points.append((it, v)) }
            }
        }
        series = s.filter { !$0.points.isEmpty }
        guard !series.isEmpty else { throw TrainError.data("no training metrics found in the log (expected JSON lines with \"iteration\" and \"loss\")") }
    }

    /// The iteration range shared by every panel.
    var xRange: (Double, Double) {
        let allX = series.flatMap { $0.points.map(\.x) }
        let x0 = allX.min() ?? 0
        return (x0, max(allX.max() ?? 1, x0 + 1))
    }

    /// A panel's value range, widened around a constant series.
    static func yRange(_ ys: [Double]) -> (Double, Double) {
        var y0 = ys.min()!, y1 = ys.max()!
        if y1 - y0 < 1e-12 { y0 -= 0.5 * max(abs(y0), 1e-12); y1 += 0.5 * max(abs(y1), 1e-12) }
        return (y0, y1)
    }

    static func label(_ v: Double) -> String {
        abs(v) >= 1e-3 && abs(v) < 1e4 || v == 0 ? String(format: "%.4g", v) : String(format: "%.2e", v)
    }

    /// The same panels as a raster image (for PNG): frame, curve, name with first → last value,
    /// y range and iteration range.
    public func raster(width: Int = 720, panelHeight: Int = 150) -> RGBImage {
        let left = 90, right = 20, top = 16, gap = 34
        let pw = width - left - right
        var canvas = Canvas(width: width, height: top + series.count * (panelHeight + gap))
        let (x0, x1) = xRange
        let blue: Canvas.Color = (31, 119, 180), grey: Canvas.Color = (153, 153, 153)
        for (i, s) in series.enumerated() {
            let py = top + i * (panelHeight + gap)
            let ys = s.points.map(\.y), (y0, y1) = Curves.yRange(ys)
            func px(_ x: Double) -> Int { left + Int(((x - x0) / (x1 - x0) * Double(pw)).rounded()) }
            func py_(_ y: Double) -> Int { py + panelHeight - Int(((y - y0) / (y1 - y0) * Double(panelHeight - 2)).rounded()) - 1 }
            canvas.frame(x: left, y: py, width: pw, height: panelHeight, grey)
            var prev: (Int, Int)? = nil
            for p in s.points {
                let q = (px(p.x), py_(p.y))
                if let a = prev { canvas.line(a.0, a.1, q.0, q.1, blue) }
                prev = q
            }
            if s.points.count == 1 { canvas.disc(px(s.points[0].x), py_(s.points[0].y), radius: 3, blue) }
            canvas.text("\(s.name): \(Curves.label(ys.first!)) -> \(Curves.label(ys.last!))", x: left + 6, y: py + 6, (51, 51, 51))
            for (v, y) in [(y1, py + 2), (y0, py + panelHeight - 10)] {
                let t = Curves.label(v)
                canvas.text(t, x: left - 6 - t.count * Canvas.advance, y: y)
            }
            canvas.text(String(Int(x0)), x: left, y: py + panelHeight + 6)
            let end = "iteration \(Int(x1))"
            canvas.text(end, x: left + pw - end.count * Canvas.advance, y: py + panelHeight + 6)
        }
        return canvas.image
    }

    /// The SVG document.
    public func svg(title: String, width: Int = 720, panelHeight: Int = 150) -> String {
        let left = 80.0, right = 20.0, top = 40.0, gap = 30.0
        let pw = Double(width) - left - right, ph = Double(panelHeight)
        let height = Int(top + Double(series.count) * (ph + gap))
        let (x0, x1) = xRange
        let fmt = Curves.label
        func esc(_ s: String) -> String { s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;") }
        var out = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" font-family=\"sans-serif\" font-size=\"11\">",
                   "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
                   "<text x=\"\(Int(left))\" y=\"22\" font-size=\"14\">\(esc(title))</text>"]
        for (i, s) in series.enumerated() {
            let py = top + Double(i) * (ph + gap)
            let ys = s.points.map(\.y), (y0, y1) = Curves.yRange(ys)
            func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
            func py_(_ y: Double) -> Double { py + ph - (y - y0) / (y1 - y0) * ph }
            out.append("<g class=\"panel\" data-series=\"\(esc(s.name))\">")
            out.append("<rect x=\"\(left)\" y=\"\(py)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#999\"/>")
            out.append("<text x=\"\(left + 6)\" y=\"\(py + 14)\" fill=\"#333\">\(esc(s.name)): \(fmt(ys.first!)) → \(fmt(ys.last!))</text>")
            out.append("<text x=\"\(left - 6)\" y=\"\(py + 10)\" text-anchor=\"end\">\(fmt(y1))</text>")
            out.append("<text x=\"\(left - 6)\" y=\"\(py + ph)\" text-anchor=\"end\">\(fmt(y0))</text>")
            let pts = s.points.map { String(format: "%.1f,%.1f", px($0.x), py_($0.y)) }.joined(separator: " ")
            out.append("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(pts)\"/>")
            if s.points.count == 1 { out.append(String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#1f77b4\"/>", px(s.points[0].x), py_(s.points[0].y))) }
            out.append("<text x=\"\(left)\" y=\"\(py + ph + 13)\">\(Int(x0))</text>")
            out.append("<text x=\"\(left + pw)\" y=\"\(py + ph + 13)\" text-anchor=\"end\">iteration \(Int(x1))</text>")
            out.append("</g>")
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }
}
