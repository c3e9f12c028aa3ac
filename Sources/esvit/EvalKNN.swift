// `esvit eval-knn`: DINO/EsViT's weighted k-NN evaluation (docs/algorithm.md §7.1) of a checkpoint's frozen
// backbone — teacher by default — on a labelled dataset: train images form the memory bank, test
// images are classified; top-1/top-5 for every k. One process, or under mpirun with feature
// extraction sharded across ranks (rank 0 classifies and prints). Features can be cached.
import ArgumentParser
import ESData
import ESDistributed
import ESEval
import ESKernels
import ESModel
import ESOptions
import Foundation

struct EvalKNN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-knn",
        abstract: "Weighted k-NN accuracy of a checkpoint's frozen backbone (DINO's protocol; k = 20 is the figure usually quoted).",
        discussion: """
        Features: Resize(⌊G·256/224⌋, bicubic) + CenterCrop(G) at the pretraining input size G, the \
        pooled final-LayerNorm output, L2-normalised. Votes weigh exp(cosine / T). Fashion-MNIST uses \
        its 60k training images as the memory bank and classifies the 10k test images; a folder \
        dataset needs DATA_PATH/train and DATA_PATH/val in the ImageNet layout.

        Examples:
          esvit eval-knn --checkpoint runs/quickstart/checkpoint.safetensors
          launch/run-node.sh -n 2 -- eval-knn --checkpoint runs/in1k/checkpoint.safetensors --dataset folder --data-path /data/imagenet
          esvit eval-knn --random-init --arch swin_mini          (the same network untrained)
          esvit eval-knn --pixels raw                            (the images' own pixels: the no-learning baseline)
        """)

    @OptionGroup var common: EvalOptions
    @Option(help: "Values of k, comma separated.") var nbKnn: String = "10,20,100,200"
    @Option(help: "Temperature of the neighbour votes.") var temperature: Double = 0.07
    @Option(help: ArgumentHelp("Baseline without a network: each image's gray pixels at the stored size (raw), or standardised with the "
                               + "training set's per-pixel mean and std (standardized), L2-normalised. All images must share one size.",
                               valueName: "raw|standardized")) var pixels: PixelFeatures.Mode?

    func ks() throws -> [Int] {
        guard let v = commaSeparated(nbKnn, { Int($0) }), v.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--nb-knn takes positive integers separated by commas, got '\(nbKnn)'")
        }
        return v
    }

    func validate() throws {
        _ = try ks()
        if !(temperature > 0) { throw ValidationError("--temperature must be > 0") }
        if pixels != nil {
            if common.network.checkpoint != nil || common.network.randomInit { throw ValidationError("--pixels evaluates the images themselves; leave out --checkpoint and --random-init") }
        } else {
            try common.network.requireNetwork()
        }
    }

    func run() throws {
        try withCommunicator { comm, say in
            let t0 = DispatchTime.now().uptimeNanoseconds
            let trainF: Features, testF: Features, trainSource: ImageSource
            var baseline: (Features, Features)?
            if let p = pixels {
                guard comm.isRoot else { return }
                let (train, test, nTrain, nTest) = try common.openData()
                say("esvit eval-knn: \(p.rawValue) pixels (no network); \(common.dataset): \(nTrain) training images, \(nTest) test images")
                do {
                    trainF = try PixelFeatures.extract(train, limit: nTrain); testF = try PixelFeatures.extract(test, limit: nTest)
                } catch { throw CLIError("\(error)") }
                PixelFeatures.finish(train: trainF, test: testF, mode: p)
                say("  features: \(trainF.dim)-d")
                trainSource = train
            } else {
                let setup = try common.prepare(say: say, command: "eval-knn")
                (trainF, testF) = common.features(setup, kind: .pooledNormalized, comm: comm, say: say)
                trainSource = setup.train
                if let random = common.network.baselineBackbone(like: setup.backbone) {
                    say("  baseline: \(random.origin)")
                    baseline = common.features(setup.with(random), kind: .pooledNormalized, comm: comm, cacheSubdir: "random-init", say: say)
                }
            }
            guard comm.isRoot else { return }
            let classes = classCount(trainSource, trainF, testF), kList = try ks()
            func classify(_ f: (Features, Features)) -> [KNNResult] {
                KNN.classify(train: f.0.values.pointer, trainLabels: f.0.labels, test: f.1.values.pointer, testLabels: f.1.labels,
                             dim: f.0.dim, classes: classes, ks: kList, temperature: Float(temperature))
            }
            let results = classify((trainF, testF)), randomResults = baseline.map(classify)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            for (i, r) in results.enumerated() {
                let gain = randomResults.map { String(format: "  (random init %.2f%%, gain %+.2f)", $0[i].top1, r.top1 - $0[i].top1) } ?? ""
                print(String(format: "  %d-NN: top-1 %.2f%%  top-5 %.2f%%", r.k, r.top1, r.top5) + gain)
            }
            if let i = results.firstIndex(where: { $0.k == 20 }) {
                let gain = randomResults.map { String(format: "  (random init %.2f%%; gain %+.2f points)", $0[i].top1, results[i].top1 - $0[i].top1) } ?? ""
                print(String(format: "k-NN (k = 20, T = %.2g): %.2f%% top-1", temperature, results[i].top1) + gain + String(format: "  [%.0f s]", seconds))
            }
        }
    }
}

/// The frame of a command that may run under mpirun: line-buffered output, the communicator
/// (finalised at the end), and a printer that only rank 0 uses.
func withCommunicator(_ body: (Communicator, @escaping (String) -> Void) throws -> Void) throws {
    setvbuf(stdout, nil, _IOLBF, 0)
    let comm = launchCommunicator()
    defer { (comm as? MPICommunicator)?.finalize() }
    try body(comm) { if comm.isRoot { print($0) } }
}

