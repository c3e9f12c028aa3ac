// `esvit eval-linear`: the linear probe of a checkpoint's frozen backbone (spec §7.2): the
// token-averaged outputs of the last N blocks (the final LayerNorm on last-stage blocks), a
// linear classifier trained with SGD (momentum 0.9, lr scaled by batch/256, cosine), validation
// top-1 after every epoch, best and last reported. This build runs the fast mode only: features
// are extracted once with the evaluation transform (no augmentation); it says so in its output.
import ArgumentParser
import ESDistributed
import ESEval
import Foundation

struct EvalLinear: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-linear",
        abstract: "Linear-probe accuracy of a checkpoint's frozen backbone (fast mode: frozen features, no augmentation).",
        discussion: """
        Features: the token-averaged outputs of the last --n-last-blocks blocks, concatenated (for \
        Swin: last-stage blocks after the final LayerNorm, earlier ones before PatchMerging, as \
        upstream's forward_return_n_last_blocks), computed once at the pretraining input size with \
        Resize + CenterCrop. Upstream trains on RandomResizedCrop + flip views recomputed every \
        epoch; that mode is not implemented in this build, and the output names the mode that ran.

        Example: esvit eval-linear --checkpoint runs/quickstart/checkpoint.safetensors --epochs 100
        """)

    @OptionGroup var common: EvalOptions
    @Option(help: "Blocks whose averaged outputs are concatenated.") var nLastBlocks: Int = 4
    @Option(help: "Training epochs of the classifier.") var epochs: Int = 100
    @Option(help: "Base learning rate(s) per 256 images, comma separated: one classifier per value, the best reported (upstream's default is 0.001 for ImageNet; small CPU models need larger ones).")
    var lr: String = "0.001,0.01,0.1,1"
    @Option(help: "Classifier batch size.") var probeBatchSize: Int = 256
    @Option(help: "Seed of the classifier's initialisation and sample order.") var probeSeed: UInt64 = 0

    func validate() throws {
        if nLastBlocks < 1 || epochs < 1 || probeBatchSize < 1 { throw ValidationError("--n-last-blocks, --epochs and --probe-batch-size must be ≥ 1") }
        _ = try lrs()
    }

    func lrs() throws -> [Double] {
        let v = lr.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ ($0 ?? 0) > 0 }) else { throw ValidationError("--lr takes positive numbers separated by commas, got '\(lr)'") }
        return v.map { $0! }
    }

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)
        let comm = makeCommunicator()
        defer { (comm as? MPICommunicator)?.finalize() }
        let say: (String) -> Void = { if comm.isRoot { print($0) } }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let setup = try common.prepare(say: say, command: "eval-linear")
        let blocks = setup.backbone.config.depths.reduce(0, +)
        guard nLastBlocks <= blocks else { throw CLIError("--n-last-blocks \(nLastBlocks) exceeds the backbone's \(blocks) blocks") }
        let (trainF, testF) = common.features(setup, kind: .lastBlocks(nLastBlocks), comm: comm, say: say)
        guard comm.isRoot else { return }
        print("  mode: fast (frozen features of the last \(nLastBlocks) blocks, extracted once without augmentation); "
              + "SGD, momentum 0.9, batch \(probeBatchSize), cosine over \(epochs) epochs")
        let every = max(1, epochs / 5)
        var results: [(Double, LinearProbeResult)] = []
        for base in try lrs() {
            var cfg = LinearProbeConfig()
            cfg.epochs = epochs; cfg.batch = probeBatchSize; cfg.baseLR = base; cfg.seed = probeSeed
            let r = LinearProbe.train(train: trainF, test: testF, classes: setup.classes(trainF, testF), config: cfg) { e, loss, acc in
                if (e + 1) % every == 0 { print(String(format: "  lr %.3g, epoch %d/%d: train loss %.4f, val top-1 %.2f%%", base, e + 1, epochs, loss, acc)) }
            }
            print(String(format: "  lr %.3g: best val top-1 %.2f%% (epoch %d), last %.2f%%", base, r.best, r.bestEpoch + 1, r.last))
            results.append((base, r))
        }
        let (bestLR, r) = results.max { $0.1.best < $1.1.best }!
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        print(String(format: "linear probe (fast mode): best val top-1 %.2f%% (lr %.3g, epoch %d), last %.2f%%  [%.0f s]",
                     r.best, bestLR, r.bestEpoch + 1, r.last, seconds))
    }
}
