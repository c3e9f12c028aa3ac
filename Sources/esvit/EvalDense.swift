// `esvit eval-dense`: the linear segmentation probe on the Fashion-MNIST scenes (the region-level
// measure of a frozen backbone; ESEval's DenseProbe), beside the same network at random
// initialisation, with an optional picture of input, truth and prediction.
import ArgumentParser
import ESData
import ESEval
import ESKernels
import ESOptions
import Foundation

struct EvalDense: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-dense",
        abstract: "Linear segmentation probe (mIoU, pixel accuracy) of a checkpoint's frozen backbone on the Fashion-MNIST scenes.",
        discussion: """
        Features: by default the tokens of the last 3 stages (--stages), each L2-normalised and \
        concatenated at the finest of their grids (swin_mini on the 64 px scenes: 16×16 cells of \
        48 + 96 + 192); --stages 1 takes the final-stage tokens alone (after the final LayerNorm), \
        the ones EsViT's region loss matches. A linear classifier per token (11 classes: background \
        and the 10 items) is trained on the train scenes with the majority class of each token's \
        cell as its target (SGD with momentum, cosine schedule, one classifier per --lr on the same \
        batches: the image probe's); on the test scenes the token logits are upsampled bilinearly \
        to the scenes' 64 px and scored as mIoU over the classes present and as pixel accuracy; the \
        best --lr on the test scenes is reported, as eval-linear does. The same network at random \
        initialisation is measured beside it (--no-baseline leaves it out).

        Examples:
          esvit eval-dense --checkpoint runs/scenes/checkpoint.safetensors
          esvit eval-dense --checkpoint runs/scenes/checkpoint.safetensors --picture dense.png
        """)

    @OptionGroup var network: EvalNetworkOptions
    @Option(help: "Folder with the Fashion-MNIST IDX files the scenes are made of.") var dataPath: String = FashionMNIST.defaultRoot
    @Option(help: "Train scenes for the probe (the first N; at --stages 3 each holds 256 tokens of 336 floats).") var trainLimit: Int = 2000
    @Option(help: "Test scenes scored (the first N).") var testLimit: Int = 1000
    @Option(help: "Base learning rates, comma separated (scaled by batch/256; the best is reported).") var lr: String = "0.1,1,10,100"
    @Option(help: "Stages whose tokens are concatenated, counted from the last: 1 is the final tokens EsViT's region loss matches; more add earlier, finer stages at the finest grid (swin_mini: 3 gives 16×16 cells of 48+96+192).")
    var stages: Int = 3
    @Option(help: "Epochs over the train tokens.") var epochs: Int = 30
    @Option(help: "Tokens per SGD step.") var batch: Int = LinearProbeConfig().batch
    @Option(help: "Write input | truth | prediction of the first test scenes here (.png or .jpg).") var picture: String?
    @Option(help: "Test scenes in the picture.") var pictureCount: Int = 6
    @Option(help: "Scenes per forward pass.") var batchSize: Int = 64
    @Option(help: "Compute threads (default: OPENBLAS_NUM_THREADS if set, else the cores this process may use).") var threads: Int?

    func lrs() throws -> [Double] {
        guard let v = commaSeparated(lr, { Double($0) }), v.allSatisfy({ $0 > 0 }) else { throw ValidationError("--lr takes positive numbers separated by commas, got '\(lr)'") }
        return v
    }

    func validate() throws {
        try network.requireNetwork()
        _ = try lrs()
        if stages < 1 { throw ValidationError("--stages must be ≥ 1") }
        if trainLimit < 1 || testLimit < 1 || epochs < 1 || batch < 1 || batchSize < 1 || pictureCount < 1 || (threads ?? 1) < 1 {
            throw ValidationError("--train-limit, --test-limit, --epochs, --batch, --batch-size, --picture-count and --threads must be ≥ 1")
        }
        if let p = picture, let problem = PictureFile.problem(p) { throw ValidationError(problem) }
    }

    func run() throws {
        Compute.setThreads(threads ?? defaultThreads)
        let backbone = try cli { try network.load() }
        let train = FashionScenes(items: try cli { try FashionMNIST(root: dataPath, split: .train) })
        let test = FashionScenes(items: try cli { try FashionMNIST(root: dataPath, split: .test) })
        let nTrain = min(trainLimit, train.count), nTest = min(testLimit, test.count), K = FashionScenes.segmentClasses.count
        print("esvit eval-dense: \(backbone.origin)")
        for note in backbone.notes { print("  \(note)") }
        let mean = DatasetKind.fashionScenes.mean, std = DatasetKind.fashionScenes.std, rates = try lrs()
        func measure(_ b: EvalBackbone, _ what: String) -> [DenseProbe.Result] {
            let start = Date()
            func extract(_ scenes: FashionScenes, _ n: Int, _ split: String) -> DenseData {
                DenseData.extract(b, scenes: scenes, count: n, mean: mean, std: std, batch: batchSize, stages: stages) { done, total in
                    if done == total { print(String(format: "  %@%@ tokens: %d scenes (%.0f s)", what, split, total, Date().timeIntervalSince(start))) }
                }
            }
            let tr = extract(train, nTrain, "train"), te = extract(test, nTest, "test")
            if b === backbone {
                let which = stages == 1 ? "final-stage tokens" : "tokens of the last \(min(stages, b.config.numStages)) stages concatenated"
                print("  \(tr.side)×\(tr.side) \(which) of \(tr.dim) per scene at \(tr.size) px; \(nTrain) train, \(nTest) test scenes")
            }
            return DenseProbe.run(train: tr, test: te, classes: K, lrs: rates, epochs: epochs, batch: batch, seed: 0,
                                  examples: picture == nil ? 0 : pictureCount) { epoch, loss in
                if epoch + 1 == epochs { print(String(format: "  %@probe: %d epochs, last loss %.4f (lr %g)", what, epochs, loss, rates[0])) }
            }
        }
        let results = measure(backbone, "")
        for r in results { print(String(format: "  lr %g: mIoU %.2f%%, pixel accuracy %.2f%%", r.lr, r.scores.miou, r.scores.pixelAccuracy)) }
        let best = results.max { $0.scores.miou < $1.scores.miou }!
        let perClass = zip(FashionScenes.segmentClasses, best.scores.iou).map { "\($0) \($1.map { String(format: "%.1f", $0) } ?? "–")" }
        print("  IoU per class (lr \(best.lr)): " + perClass.joined(separator: ", "))
        var summary = String(format: "dense: mIoU %.2f%%, pixel accuracy %.2f%% (best lr %g)", best.scores.miou, best.scores.pixelAccuracy, best.lr)
        if let random = network.baselineBackbone(like: backbone) {
            let b = measure(random, "random-init ").max { $0.scores.miou < $1.scores.miou }!
            summary += String(format: "  (random init: mIoU %.2f%%, pixel accuracy %.2f%%; gain %+.2f, %+.2f points)", b.scores.miou, b.scores.pixelAccuracy,
                              best.scores.miou - b.scores.miou, best.scores.pixelAccuracy - b.scores.pixelAccuracy)
        }
        print(summary)
        if let p = picture {
            let image = DensePicture.render(scenes: test, predictions: best.examples, size: FashionScenes.canvas)
            try cli { try PictureFile.write(image, to: p) }
            print("  → \(p) (input | truth | prediction, \(best.examples.count) test scenes)")
        }
    }
}
