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
        abstract: "Weighted k-NN accuracy of a checkpoint's frozen backbone (DINO's protocol, k = 20 is the headline).",
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
            if common.checkpoint != nil || common.randomInit { throw ValidationError("--pixels evaluates the images themselves; leave out --checkpoint and --random-init") }
        } else {
            try common.requireNetwork()
        }
    }

    func run() throws {
        try withCommunicator { comm, say in
            let t0 = DispatchTime.now().uptimeNanoseconds
            let trainF: Features, testF: Features, trainSource: ImageSource
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
            }
            guard comm.isRoot else { return }
            let results = KNN.classify(train: trainF.values.pointer, trainLabels: trainF.labels, test: testF.values.pointer, testLabels: testF.labels,
                                       dim: trainF.dim, classes: classCount(trainSource, trainF, testF), ks: try ks(), temperature: Float(temperature))
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            for r in results { print(String(format: "  %d-NN: top-1 %.2f%%  top-5 %.2f%%", r.k, r.top1, r.top5)) }
            if let r20 = results.first(where: { $0.k == 20 }) { print(String(format: "k-NN (k = 20, T = %.2g): %.2f%% top-1  [%.0f s]", temperature, r20.top1, seconds)) }
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

/// What eval-knn and eval-linear share: the network to evaluate, the labelled data, threads,
/// subsets and the feature cache.
struct EvalOptions: ParsableArguments {
    @Option(help: "A training checkpoint, or a backbone-only safetensors file (then give --arch).") var checkpoint: String?
    @Option(help: "Which network of a training checkpoint: teacher or student.") var which: String = "teacher"
    @Flag(help: "Evaluate the untrained network instead (initialised as the trainer does, with --seed).") var randomInit = false
    @Option(help: "Seed of --random-init.") var seed: UInt64 = 0
    @OptionGroup(title: "Architecture (backbone-only files and --random-init)") var archOptions: ArchOptions
    @Option(help: "Input size (default: the checkpoint's global crop size, or the architecture's construction size).") var inputSize: Int?
    @Option(help: "fashion-mnist, or folder (DATA_PATH/train and DATA_PATH/val).") var dataset: DatasetKind = .standard
    @Option(help: "Dataset location (default for fashion-mnist: \(FashionMNIST.defaultRoot)).") var dataPath: String?
    @Option(help: "Images per forward pass.") var batchSize: Int = 128
    @Option(help: "Compute threads per rank (default: OPENBLAS_NUM_THREADS if set, else the cores this process may use).") var threads: Int?
    @Option(help: "Use only the first N training images (the k-NN memory bank, the probe's training set).") var trainLimit: Int?
    @Option(help: "Classify only the first N test images.") var testLimit: Int?
    @Option(help: "Cache the features here (.npy) and reuse them when the same file and settings come again.") var featuresDir: String?


    /// The commands that need a network call this from their validate().
    func requireNetwork() throws {
        if checkpoint == nil && !randomInit { throw ValidationError("give --checkpoint FILE (or --random-init for the untrained baseline)") }
    }

    func validate() throws {
        if checkpoint != nil && randomInit { throw ValidationError("use either --checkpoint or --random-init, not both") }
        if let c = checkpoint, !FileManager.default.fileExists(atPath: c) { throw ValidationError("--checkpoint \(c) does not exist") }
        if !["teacher", "student"].contains(which) { throw ValidationError("--which must be teacher or student") }
        if dataset.defaultPath == nil && dataPath == nil { throw ValidationError("--dataset \(dataset) needs --data-path (with train/ and val/ inside)") }
        if batchSize < 1 || (threads ?? 1) < 1 || (trainLimit ?? 1) < 1 || (testLimit ?? 1) < 1 {
            throw ValidationError("--batch-size, --threads, --train-limit and --test-limit must be ≥ 1")
        }
    }

    struct Setup {
        let backbone: EvalBackbone
        let train: ImageSource, test: ImageSource
        let nTrain: Int, nTest: Int
        let mean: [Float], std: [Float]
    }

    /// Loads the network and opens the data; prints what will be evaluated.
    func prepare(say: (String) -> Void, command: String) throws -> Setup {
        Compute.setThreads(threads ?? defaultThreads)
        let backbone: EvalBackbone
        do {
            if randomInit {
                let cfg = try archOptions.config()
                backbone = EvalBackbone(randomWith: cfg, seed: seed, inputSize: inputSize ?? cfg.constructSize)
            } else {
                backbone = try EvalBackbone(path: checkpoint!, which: which, arch: try archOptions.config(), inputSize: inputSize)
            }
        } catch { throw CLIError("\(error)") }
        let (train, test, nTrain, nTest) = try openData()
        say("esvit \(command): \(backbone.origin)")
        say("  \(backbone.config.depths.count)-stage Swin at \(backbone.inputSize) px; \(dataset): \(nTrain) training images, \(nTest) test images")
        return Setup(backbone: backbone, train: train, test: test, nTrain: nTrain, nTest: nTest,
                     mean: dataset.mean, std: dataset.std)
    }

    /// The labelled train and test sources and how many of each to use.
    func openData() throws -> (ImageSource, ImageSource, Int, Int) {
        let train: ImageSource, test: ImageSource
        do { (train, test) = try dataset.labelledSplits(at: dataPath ?? dataset.defaultPath ?? "") } catch { throw CLIError("\(error)") }
        return (train, test, min(trainLimit ?? train.count, train.count), min(testLimit ?? test.count, test.count))
    }

    /// Train and test features of `kind`, from the cache when it matches, else extracted (sharded over ranks).
    func features(_ s: Setup, kind: FeatureKind, comm: Communicator, say: @escaping (String) -> Void) -> (Features, Features) {
        let cache = featuresDir.map { FeatureCache(dir: $0, key: cacheKey(s, kind: kind)) }
        if let cache, let cached = cache.load() {
            say("  features: reused from \(cache.dir)")
            return cached
        }
        let a = FeatureExtractor.extract(s.backbone, source: s.train, limit: s.nTrain, batch: batchSize, mean: s.mean, std: s.std, comm: comm,
                                         what: "train features", kind: kind, progress: say)
        let b = FeatureExtractor.extract(s.backbone, source: s.test, limit: s.nTest, batch: batchSize, mean: s.mean, std: s.std, comm: comm,
                                         what: "test features", kind: kind, progress: say)
        if a.unreadable + b.unreadable > 0 { say("  note: \(a.unreadable + b.unreadable) unreadable image(s) got zero features") }
        say("  features: \(a.dim)-d")
        if comm.isRoot, let cache {
            do { try cache.save(a, b); say("  features cached in \(cache.dir)") } catch { say("  warning: could not cache the features: \(error)") }
        }
        return (a, b)
    }

    func cacheKey(_ s: Setup, kind: FeatureKind) -> String {
        var parts = ["v2", "\(kind)", s.backbone.origin, "\(s.backbone.inputSize)", dataset.rawValue, dataPath ?? "", "\(s.nTrain)", "\(s.nTest)"]
        if let c = checkpoint, let a = try? FileManager.default.attributesOfItem(atPath: c) {
            parts.append("\(a[.size] ?? 0)"); parts.append("\((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)")
        }
        return parts.joined(separator: "|")
    }
}

/// Features as .npy files plus a key file naming what they were computed from.
struct FeatureCache {
    let dir: String, key: String
    func path(_ n: String) -> String { (dir as NSString).appendingPathComponent(n) }

    func load() -> (Features, Features)? {
        guard let k = try? String(contentsOfFile: path("features.key"), encoding: .utf8), k == key else { return nil }
        func part(_ name: String) -> Features? {
            guard let f = try? Npy.read(path(name + "_features.npy")), let l = try? Npy.read(path(name + "_labels.npy")),
                  f.shape.count == 2, l.data.count == f.shape[0] else { return nil }
            let buf = FloatBuffer(count: f.data.count)
            f.data.withUnsafeBufferPointer { buf.pointer.update(from: $0.baseAddress!, count: f.data.count) }
            return Features(values: buf, count: f.shape[0], dim: f.shape[1], labels: l.data.map { Int32($0) }, unreadable: 0)
        }
        guard let a = part("train"), let b = part("test") else { return nil }
        return (a, b)
    }

    func save(_ train: Features, _ test: Features) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, f) in [("train", train), ("test", test)] {
            try Npy.write(NpyArray(shape: [f.count, f.dim], data: Array(UnsafeBufferPointer(start: f.values.pointer, count: f.count * f.dim))),
                          to: path(name + "_features.npy"))
            try Npy.write(NpyArray(shape: [f.count], data: f.labels.map(Float.init)), to: path(name + "_labels.npy"))
        }
        try AtomicFile.write(Data(key.utf8), to: path("features.key"))
    }
}
