// `esvit plot`: a run's training curves from its log.txt (ESTrain's Curves: a panel per quantity
// group with ticks, grid and legend, periodic evaluations as points), as SVG (primary) or PNG.
import ArgumentParser
import ESData
import ESModel
import ESTrain
import Foundation

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Training curves from OUTPUT_DIR/log.txt as SVG or PNG.",
        discussion: """
        One panel per quantity group against the iteration: loss (total, L_V, L_R), learning rate, teacher temperature, \
        the teacher's entropy per sample and KL (view head), and the periodic evaluations (k-NN top-1, correspondence \
        accuracy) as marked points; ticks at round values, a grid, a legend with each series' first and last value. \
        The SVG has real text and opens in any browser; the PNG draws the same layout with a small bitmap font. \
        For live curves, pretrain also writes TensorBoard event files: tensorboard --logdir OUTPUT_DIR.
        Example: esvit plot --log runs/quickstart --out runs/quickstart/curves.svg
        """)

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
        print("plot: \(curves.panels.map(\.title).joined(separator: ", ")) (\(curves.series.first!.points.count) points) → \(out)")
    }
}
