// `esvit eval-linear`: the linear probe of a checkpoint's frozen backbone (docs/algorithm.md §7.2): the
// token-averaged outputs of the last N blocks (the final LayerNorm on last-stage blocks), a
// linear classifier trained with SGD (momentum 0.9, lr scaled by batch/256, cosine), validation
// top-1 after every epoch, best and last reported. --mode augmented (default, upstream's
// protocol): fresh RandomResizedCrop + flip views through the backbone every epoch, one
// process; --mode fast: features extracted once without augmentation (minutes instead of hours,
// sharded over ranks). The output names the mode that ran.
import ArgumentParser
import ESDistributed
import ESEval
import ESOptions
import Foundation

struct EvalLinear: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-linear",
        abstract: "Linear-probe accuracy of a checkpoint's frozen backbone (upstream's augmented protocol, or a fast mode).",
        discussion: """
        Features: the token-averaged outputs of the last --n-last-blocks blocks, concatenated (for \
        Swin: last-stage blocks after the final LayerNorm, earlier ones before PatchMerging, as \
        upstream's forward_return_n_last_blocks). --mode augmented (upstream's protocol): every epoch \
        each training image is a new RandomResizedCrop(G, scale 0.08-1, bilinear) with a flip, through \
        the frozen backbone, on one process; all --lr values train side by side on the same views. \
        --mode fast: features computed once with Resize + CenterCrop, no augmentation (sharded over \
        ranks under mpirun). Validation always uses Resize + CenterCrop features computed once.

        Examples:
          esvit eval-linear --checkpoint runs/quickstart/checkpoint.safetensors --mode fast
          esvit eval-linear --checkpoint runs/quickstart/checkpoint.safetensors --epochs 100 --lr 0.1,1
        """)

    @OptionGroup var common: EvalOptions
    @Option(help: "augmented (upstream's protocol: new augmented views through the backbone every epoch) or fast (frozen features computed once).")
    var mode: ProbeMode = .standard
    @Option(help: "Blocks whose averaged outputs are concatenated.") var nLastBlocks: Int = 4
    @Option(help: "Training epochs of the classifier.") var epochs: Int = 100
    @Option(help: "Base learning rate(s) per 256 images, comma separated: one classifier per value, the best reported (upstream's default is 0.001 for ImageNet; small CPU models need larger ones).")
    var lr: String = "0.001,0.01,0.1,1"
    @Option(help: "Classifier batch size.") var probeBatchSize: Int = 256
    @Option(help: "Seed of the classifier's initialisation and sample order.") var probeSeed: UInt64 = 0

    func validate() throws {
        try common.network.requireNetwork()
        if nLastBlocks < 1 || epochs < 1 || probeBatchSize < 1 { throw ValidationError("--n-last-blocks, --epochs and --probe-batch-size must be ≥ 1") }
        _ = try lrs()
    }

    func lrs() throws -> [Double] {
        guard let v = commaSeparated(lr, { Double($0) }), v.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--lr takes positive numbers separated by commas, got '\(lr)'")
        }
        return v
    }

    func run() throws {
        try withCommunicator { comm, say in
            let t0 = DispatchTime.now().uptimeNanoseconds
            let setup = try common.prepare(say: say, command: "eval-linear")
            let blocks = setup.backbone.config.depths.reduce(0, +)
            guard nLastBlocks <= blocks else { throw CLIError("--n-last-blocks \(nLastBlocks) exceeds the backbone's \(blocks) blocks") }
            if mode == .augmented {
                guard comm.size == 1 else { throw CLIError("--mode augmented runs on one process (give it the cores with --threads); use --mode fast under mpirun") }
                let testF = FeatureExtractor.extract(setup.backbone, source: setup.test, limit: setup.nTest, batch: common.batchSize, mean: setup.mean,
                                                     std: setup.std, comm: comm, what: "val features", kind: .lastBlocks(nLastBlocks), progress: say)
                let computer = FeatureComputer(setup.backbone, kind: .lastBlocks(nLastBlocks), batch: probeBatchSize)
                print("  mode: augmented (RandomResizedCrop 0.08-1 bilinear + flip, new views every epoch through the frozen backbone; "
                      + "\(computer.dim)-d features of the last \(nLastBlocks) blocks); SGD, momentum 0.9, batch \(probeBatchSize), cosine over \(epochs) epochs")
                var cfg = LinearProbeConfig()
                cfg.epochs = epochs; cfg.batch = probeBatchSize; cfg.seed = probeSeed
                let lrList = try lrs()
                let e0 = DispatchTime.now().uptimeNanoseconds
                let rs = LinearProbe.trainAugmented(computer, source: setup.train, count: setup.nTrain, test: testF,
                                                    classes: classCount(setup.train, testF),
                                                    mean: setup.mean, std: setup.std, config: cfg, lrs: lrList) { e, accs in
                    let per = Double(DispatchTime.now().uptimeNanoseconds - e0) * 1e-9 / Double(e + 1)
                    print(String(format: "  epoch %d/%d: val top-1 ", e + 1, epochs) + zip(lrList, accs).map { String(format: "%.2f%% (lr %.3g)", $1, $0) }.joined(separator: ", ")
                          + String(format: "  ETA %.0fs", per * Double(epochs - e - 1)))
                }
                for (base, r) in zip(lrList, rs) { print(String(format: "  lr %.3g: best val top-1 %.2f%% (epoch %d), last %.2f%%", base, r.best, r.bestEpoch + 1, r.last)) }
                let (bestLR, r) = zip(lrList, rs).max { $0.1.best < $1.1.best }!
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                print(String(format: "linear probe (augmented mode): best val top-1 %.2f%% (lr %.3g, epoch %d), last %.2f%%  [%.0f s]",
                             r.best, bestLR, r.bestEpoch + 1, r.last, seconds))
                if common.network.baseline && !common.network.randomInit {
                    print("  (no random-initialisation baseline in augmented mode, where it would double hours of work; --mode fast measures it, "
                          + "or run this command with --random-init)")
                }
                return
            }
            let kind = FeatureKind.lastBlocks(nLastBlocks)
            let trained = common.features(setup, kind: kind, comm: comm, say: say)
            let random = common.network.baselineBackbone(like: setup.backbone)
            if let random { say("  baseline: \(random.origin)") }
            let untrained = random.map { common.features(setup.with($0), kind: kind, comm: comm, cacheSubdir: "random-init", say: say) }
            guard comm.isRoot else { return }
            print("  mode: fast (frozen features of the last \(nLastBlocks) blocks, extracted once without augmentation); "
                  + "SGD, momentum 0.9, batch \(probeBatchSize), cosine over \(epochs) epochs")
            let (bestLR, r) = try probe(trained, classes: classCount(setup.train, trained.0, trained.1), what: "")
            let gain = try untrained.map { f -> String in
                let (_, b) = try probe(f, classes: classCount(setup.train, f.0, f.1), what: "random init, ")
                return String(format: "  (random init %.2f%%; gain %+.2f points)", b.best, r.best - b.best)
            } ?? ""
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            print(String(format: "linear probe (fast mode): best val top-1 %.2f%% (lr %.3g, epoch %d), last %.2f%%", r.best, bestLR, r.bestEpoch + 1, r.last)
                  + gain + String(format: "  [%.0f s]", seconds))
        }
    }

    /// One classifier per learning rate on fixed features; the best by validation top-1.
    func probe(_ f: (Features, Features), classes: Int, what: String) throws -> (Double, LinearProbeResult) {
        let every = max(1, epochs / 5)
        var results: [(Double, LinearProbeResult)] = []
        for base in try lrs() {
            var cfg = LinearProbeConfig()
            cfg.epochs = epochs; cfg.batch = probeBatchSize; cfg.baseLR = base; cfg.seed = probeSeed
            let r = LinearProbe.train(train: f.0, test: f.1, classes: classes, config: cfg) { e, loss, acc in
                if (e + 1) % every == 0 { print(String(format: "  %@lr %.3g, epoch %d/%d: train loss %.4f, val top-1 %.2f%%", what, base, e + 1, epochs, loss, acc)) }
            }
            print(String(format: "  %@lr %.3g: best val top-1 %.2f%% (epoch %d), last %.2f%%", what, base, r.best, r.bestEpoch + 1, r.last))
            results.append((base, r))
        }
        return results.max { $0.1.best < $1.1.best }!
    }
}
