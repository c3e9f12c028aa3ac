// `esvit plot`: a run's training curves (loss, L_V, L_R, lr, teacher temperature and, with
// periodic evaluation, k-NN) from its log.txt, as an SVG file any browser opens, or a PNG.
import ArgumentParser
import ESData
import ESModel
import ESTrain
import Foundation

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Training curves from OUTPUT_DIR/log.txt as SVG or PNG (loss, L_V, L_R, lr, teacher temperature, k-NN).",
        discussion: "Example: esvit plot --log runs/quickstart/log.txt --out runs/quickstart/curves.png")

    @Option(help: "A run's log.txt (or its output folder).") var log: String
    @Option(help: "Output file: .svg (vector, opens in any browser) or .png.") var out: String

    var png: Bool { out.lowercased().hasSuffix(".png") }

    func validate() throws {
        guard png || out.lowercased().hasSuffix(".svg") else { throw ValidationError("--out must end in .svg or .png, got \(out)") }
    }

    func run() throws {
        var path = log
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { path = (path as NSString).appendingPathComponent("log.txt") }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("cannot read \(path); give a run's log.txt or its output folder") }
        let curves: Curves
        do { curves = try Curves(logText: text) } catch { throw CLIError("\(path): \(error)") }
        try AtomicFile.write(png ? try PNG.encode(curves.raster()) : Data(curves.svg(title: "esvit: \(path)").utf8), to: out)
        print("plot: \(curves.series.map(\.name).joined(separator: ", ")) (\(curves.series.first!.points.count) points) → \(out)")
    }
}
