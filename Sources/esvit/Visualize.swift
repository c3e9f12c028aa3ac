// `esvit visualize attention`: the last block's attention maps of a checkpoint's backbone for one
// query position, one tile per head sorted by entropy, the 60 %-mass set highlighted, beside the
// input (paper Fig. 6). Written as PNG or JPEG, by the --out suffix.
import ArgumentParser
import ESData
import ESEval
import ESKernels
import ESModel
import ESOptions
import Foundation

struct Visualize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pictures of what a checkpoint's backbone attends to.",
        subcommands: [VisualizeAttention.self, VisualizeCorrespondence.self])
}

/// The network and the image a picture is made of.
struct PictureOptions: ParsableArguments {
    @Option(name: [.customLong("checkpoint"), .customLong("weights")],
            help: "An esvit training checkpoint, or weights from elsewhere: a torch.save .pth or a safetensors file (then give --arch).")
    var checkpoint: String
    @Option(help: "Which network of a file that holds both (a training checkpoint, an upstream EsViT .pth).") var which: EvalNetwork = .teacher
    @Option(help: "Where the backbone sits in a weights file (e.g. 'teacher.backbone.'); found by default.") var prefix: String?
    @OptionGroup(title: "Architecture (weights files)") var archOptions: ArchOptions
    @Option(help: "A JPEG image.") var image: String?
    @Option(help: "Use this Fashion-MNIST test image instead of --image.") var fashionIndex: Int?
    @Option(help: "Dataset location for --fashion-index.") var dataPath: String = FashionMNIST.defaultRoot
    @Option(help: "Output file: .png (lossless) or .jpg/.jpeg.") var out: String

    func validate() throws {
        if (image == nil) == (fashionIndex == nil) { throw ValidationError("give exactly one of --image FILE or --fashion-index N") }
        if let p = PictureFile.problem(out) { throw ValidationError(p) }
    }

    /// The backbone, the image, and the normalisation that goes with its source.
    func load() throws -> PictureInput {
        Compute.setThreads(1)
        let source: PictureImage = fashionIndex.map { .fashionMNIST(index: $0, root: dataPath) } ?? .jpeg(path: image!)
        return try cli { try PictureInput(checkpoint: checkpoint, which: which, arch: try archOptions.config(), prefix: prefix, image: source) }
    }

    func write(_ picture: RGBImage) throws { try cli { try PictureFile.write(picture, to: out) } }
}

struct VisualizeCorrespondence: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "correspondence",
        abstract: "Two random crops of an image with their best-matching regions joined by numbered lines (PNG or JPEG).",
        discussion: """
        View 1 is a RandomResizedCrop with scale (1, 1), view 2 one with scale (0.4, 0.6), as upstream's \
        --vis_correspondence; each final token of view 1 is matched to its most similar token of view 2 \
        (cosine, the region loss's matching) and the --pairs most similar matches are drawn.

        Example: esvit visualize correspondence --checkpoint runs/quickstart/checkpoint.safetensors --fashion-index 0 --out corr.jpg
        """)

    @OptionGroup var picture: PictureOptions
    @Option(help: "Seed of the two crops.") var seed: UInt64 = 0
    @Option(help: "Matched pairs to draw.") var pairs: Int = 10
    @Option(help: "Size of each view in pixels.") var tile: Int = 256

    func validate() throws {
        if pairs < 1 || tile < 32 { throw ValidationError("--pairs must be ≥ 1 and --tile ≥ 32") }
    }

    func run() throws {
        let input = try picture.load(), backbone = input.backbone
        let c = Correspondence.compute(backbone, image: input.image, mean: input.mean, std: input.std, seed: seed)
        try picture.write(c.render(tile: tile, count: pairs))
        print("visualize correspondence: \(backbone.origin); \(c.gridHeight)×\(c.gridWidth) tokens per view")
        print("  top pairs (view-1 token → view-2 token, cosine): "
              + c.matches.prefix(pairs).map { String(format: "%d→%d %.3f", $0.from, $0.to, $0.similarity) }.joined(separator: ", "))
        print("  → \(picture.out)")
    }
}

struct VisualizeAttention: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Last-block attention maps per head for one query token, sorted by entropy, beside the input (PNG or JPEG).",
        discussion: """
        The image goes through the evaluation transform at the checkpoint's input size. The first tile \
        is that input with the query cell outlined; each further tile is one head's attention of the \
        query over the final token grid (hot colours, scaled to the head's maximum), heads ordered \
        from the most to the least focused (entropy), tokens outside the smallest set holding \
        --mass of the attention dimmed.

        Examples:
          esvit visualize attention --checkpoint runs/quickstart/checkpoint.safetensors --fashion-index 0 --out attn.png
          esvit visualize attention --checkpoint ckpt.safetensors --image photo.jpg --query 3,3 --out attn.jpg
        """)

    @OptionGroup var picture: PictureOptions
    @Option(help: "Query token as ROW,COL on the final grid (default: the centre).") var query: String?
    @Option(help: "Fraction of the attention mass kept bright.") var mass: Double = 0.6
    @Option(help: "Tile size in pixels.") var tile: Int = 128

    func validate() throws {
        if !(mass > 0 && mass <= 1) { throw ValidationError("--mass must be in (0, 1]") }
        if tile < 16 { throw ValidationError("--tile must be ≥ 16") }
        if let q = query, parseQuery(q) == nil { throw ValidationError("--query takes ROW,COL, got '\(q)'") }
    }

    func parseQuery(_ s: String) -> (row: Int, col: Int)? {
        guard let p = commaSeparated(s, { Int($0) }), p.count == 2 else { return nil }
        return (p[0], p[1])
    }

    func run() throws {
        let loaded = try picture.load(), backbone = loaded.backbone
        let (view, input) = AttentionView.lastBlock(backbone, image: loaded.image, mean: loaded.mean, std: loaded.std, query: query.flatMap(parseQuery))
        let rendered = view.render(input: input, tile: tile, fraction: Float(mass))
        try picture.write(rendered)
        let q = (view.query / view.gridWidth, view.query % view.gridWidth)
        print("visualize attention: \(backbone.origin); last block, \(view.maps.count) heads, query (\(q.0), \(q.1)) on the \(view.gridHeight)×\(view.gridWidth) grid")
        print("  heads by entropy: " + view.order.map { String(format: "%d (%.2f)", $0, view.entropy[$0]) }.joined(separator: ", "))
        print("  → \(picture.out) (\(rendered.width)×\(rendered.height))")
    }
}
