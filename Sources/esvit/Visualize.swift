// `esvit visualize attention`: the last block's attention maps of a checkpoint's backbone for one
// query position, one tile per head sorted by entropy, the 60 %-mass set highlighted, beside the
// input (paper Fig. 6). Written as JPEG.
import ArgumentParser
import ESData
import ESEval
import ESKernels
import ESModel
import Foundation

struct Visualize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pictures of what a checkpoint's backbone attends to.",
        subcommands: [VisualizeAttention.self])
}

struct VisualizeAttention: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Last-block attention maps per head for one query token, sorted by entropy, beside the input (JPEG).",
        discussion: """
        The image goes through the evaluation transform at the checkpoint's input size. The first tile \
        is that input with the query cell outlined; each further tile is one head's attention of the \
        query over the final token grid (hot colours, scaled to the head's maximum), heads ordered \
        from the most to the least focused (entropy), tokens outside the smallest set holding \
        --mass of the attention dimmed.

        Examples:
          esvit visualize attention --checkpoint runs/quickstart/checkpoint.safetensors --fashion-index 0 --out attn.jpg
          esvit visualize attention --checkpoint ckpt.safetensors --image photo.jpg --query 3,3 --out attn.jpg
        """)

    @Option(help: "A training checkpoint, or a backbone-only safetensors file (then give --arch).") var checkpoint: String
    @Option(help: "Which network of a training checkpoint: teacher or student.") var which: String = "teacher"
    @OptionGroup(title: "Architecture (backbone-only files)") var archOptions: ArchOptions
    @Option(help: "A JPEG image.") var image: String?
    @Option(help: "Use this Fashion-MNIST test image instead of --image.") var fashionIndex: Int?
    @Option(help: "Dataset location for --fashion-index.") var dataPath: String = FashionMNIST.defaultRoot
    @Option(help: "Query token as ROW,COL on the final grid (default: the centre).") var query: String?
    @Option(help: "Fraction of the attention mass kept bright.") var mass: Double = 0.6
    @Option(help: "Tile size in pixels.") var tile: Int = 128
    @Option(help: "Output JPEG file.") var out: String

    func validate() throws {
        if (image == nil) == (fashionIndex == nil) { throw ValidationError("give exactly one of --image FILE or --fashion-index N") }
        if !(mass > 0 && mass <= 1) { throw ValidationError("--mass must be in (0, 1]") }
        if tile < 16 { throw ValidationError("--tile must be ≥ 16") }
        let o = out.lowercased()
        if !(o.hasSuffix(".jpg") || o.hasSuffix(".jpeg")) { throw ValidationError("--out must end in .jpg or .jpeg (JPEG output)") }
        if let q = query, parseQuery(q) == nil { throw ValidationError("--query takes ROW,COL, got '\(q)'") }
    }

    func parseQuery(_ s: String) -> (row: Int, col: Int)? {
        let p = s.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return p.count == 2 ? (p[0], p[1]) : nil
    }

    func run() throws {
        Compute.setThreads(1)
        let backbone: EvalBackbone
        do { backbone = try EvalBackbone(path: checkpoint, which: which, arch: try archOptions.config()) } catch { throw CLIError("\(error)") }
        let img: RGBImage, fashion: Bool
        do {
            if let i = fashionIndex {
                let fm = try FashionMNIST(root: dataPath, split: .test)
                guard i >= 0 && i < fm.count else { throw CLIError("--fashion-index must be in 0..<\(fm.count)") }
                img = try fm.load(i, minShortSide: 0); fashion = true
            } else {
                img = try JPEG.decode(file: image!).0; fashion = false
            }
        } catch let e as CLIError { throw e } catch { throw CLIError("\(error)") }
        let mean = fashion ? MultiCropConfig.fashionMean : MultiCropConfig.imagenetMean
        let std = fashion ? MultiCropConfig.fashionStd : MultiCropConfig.imagenetStd
        let (view, input) = AttentionView.lastBlock(backbone, image: img, mean: mean, std: std, query: query.flatMap(parseQuery))
        let picture = view.render(input: input, tile: tile, fraction: Float(mass))
        do {
            let data = try JPEG.encode(picture.pixels, width: picture.width, height: picture.height, components: 3)
            try AtomicFile.write(data, to: out)
        } catch { throw CLIError("cannot write \(out): \(error)") }
        let q = (view.query / view.gridWidth, view.query % view.gridWidth)
        print("visualize attention: \(backbone.origin); last block, \(view.maps.count) heads, query (\(q.0), \(q.1)) on the \(view.gridHeight)×\(view.gridWidth) grid")
        print("  heads by entropy: " + view.order.map { String(format: "%d (%.2f)", $0, view.entropy[$0]) }.joined(separator: ", "))
        print("  → \(out) (\(picture.width)×\(picture.height))")
    }
}
