// What the evaluation commands share, as a library so tests reach it in-process: the network to
// evaluate (a checkpoint's teacher or student, a weights file from elsewhere, or a random init), the
// labelled data, threads, subsets and the feature cache; and the typed choices of the commands.
import ArgumentParser
import ESCheckpoint
import ESData
import ESDistributed
import ESKernels
import ESModel
import ESOptions
import Foundation

extension ProbeMode: ExpressibleByArgument {}
extension PixelFeatures.Mode: ExpressibleByArgument {}

/// Which network of a training checkpoint is evaluated.
public enum EvalNetwork: String, CaseIterable, Sendable, ExpressibleByArgument, CustomStringConvertible {
    case teacher, student
    public var description: String { rawValue }
    /// The tensor-name prefix of this network in a training checkpoint.
    public var checkpointPrefix: String { self == .teacher ? CheckpointTensors.teacher : CheckpointTensors.student }
}

/// The network an evaluation runs: a training checkpoint, weights from elsewhere, or a random
/// initialisation (every evaluation command takes these).
public struct EvalNetworkOptions: ParsableArguments {
    public init() {}
    @Option(name: [.customLong("checkpoint"), .customLong("weights")],
            help: "An esvit training checkpoint, or weights from elsewhere: a torch.save .pth or a safetensors file (upstream EsViT, official Swin, timm, esvit export; then give --arch).")
    public var checkpoint: String?
    @Option(help: "Which network of a file that holds both (a training checkpoint, an upstream EsViT .pth).") public var which: EvalNetwork = .teacher
    @Option(help: "Where the backbone sits in a weights file (e.g. 'teacher.backbone.'); found by default.") public var prefix: String?
    @Flag(help: "Evaluate the untrained network instead (initialised as the trainer does, with --seed).") public var randomInit = false
    @Option(help: "Seed of --random-init, and of the baseline of a weights file (a training checkpoint's baseline uses the run's own seed).") public var seed: UInt64 = 0
    @Flag(inversion: .prefixedNo, help: "Also measure the same architecture at random initialisation (as the trainer initialises it), and print the gain.")
    public var baseline = true
    @OptionGroup(title: "Architecture (weights files other than training checkpoints, and --random-init)") public var archOptions: ArchOptions
    @Option(help: "Input size (default: the checkpoint's global crop size, or the architecture's construction size).") public var inputSize: Int?

    /// The commands that need a network call this from their validate().
    public func requireNetwork() throws {
        if checkpoint == nil && !randomInit { throw ValidationError("give --checkpoint FILE (or --random-init for the untrained baseline)") }
    }

    public func validate() throws {
        if checkpoint != nil && randomInit { throw ValidationError("use either --checkpoint or --random-init, not both") }
        if let c = checkpoint, !FileManager.default.fileExists(atPath: c) { throw ValidationError("--checkpoint \(c) does not exist") }
    }

    /// The same architecture at the trainer's random initialisation, for the gain: the training
    /// run's own seed for a training checkpoint, else --seed. Nil with --no-baseline or --random-init.
    public func baselineBackbone(like b: EvalBackbone) -> EvalBackbone? {
        guard baseline && !randomInit else { return nil }
        return EvalBackbone(randomWith: b.config, seed: b.trainingSeed ?? seed, inputSize: b.inputSize)
    }

    /// The backbone these options name.
    public func load() throws -> EvalBackbone {
        do {
            if randomInit {
                let cfg = try archOptions.config()
                return EvalBackbone(randomWith: cfg, seed: seed, inputSize: inputSize ?? cfg.constructSize)
            }
            return try EvalBackbone(path: checkpoint!, which: which, arch: try archOptions.config(), inputSize: inputSize, prefix: prefix)
        } catch { throw EvalError.invalid("\(error)") }
    }
}

/// What eval-knn and eval-linear share: the network to evaluate, the labelled data, threads,
/// subsets and the feature cache.
public struct EvalOptions: ParsableArguments {
    public init() {}
    @OptionGroup public var network: EvalNetworkOptions
    @Option(help: "fashion-mnist, fashion-scenes (single items on the scenes' canvas), or folder (DATA_PATH/train and DATA_PATH/val).") public var dataset: DatasetKind = .standard
    @Option(help: "Dataset location (default for the Fashion-MNIST sets: \(FashionMNIST.defaultRoot)).") public var dataPath: String?
    @Option(help: "Images per forward pass.") public var batchSize: Int = 128
    @Option(help: "Compute threads per rank (default: OPENBLAS_NUM_THREADS if set, else the cores this process may use).") public var threads: Int?
    @Option(help: "Use only the first N training images (the k-NN memory bank, the probe's training set).") public var trainLimit: Int?
    @Option(help: "Classify only the first N test images.") public var testLimit: Int?
    @Option(help: "Cache the features here (.npy) and reuse them when the same file and settings come again.") public var featuresDir: String?

    public func validate() throws {
        if dataset.defaultPath == nil && dataPath == nil { throw ValidationError("--dataset \(dataset) needs --data-path (with train/ and val/ inside)") }
        if batchSize < 1 || (threads ?? 1) < 1 || (trainLimit ?? 1) < 1 || (testLimit ?? 1) < 1 {
            throw ValidationError("--batch-size, --threads, --train-limit and --test-limit must be ≥ 1")
        }
    }

    public struct Setup {
        public let backbone: EvalBackbone
        public let train: ImageSource, test: ImageSource
        public let nTrain: Int, nTest: Int
        public let mean: [Float], std: [Float]
        /// The same data with another network (the random-initialisation baseline).
        public func with(_ other: EvalBackbone) -> Setup {
            Setup(backbone: other, train: train, test: test, nTrain: nTrain, nTest: nTest, mean: mean, std: std)
        }
    }

    /// Loads the network and opens the data; prints what will be evaluated.
    public func prepare(say: (String) -> Void, command: String) throws -> Setup {
        Compute.setThreads(threads ?? defaultThreads)
        let backbone = try network.load()
        let (train, test, nTrain, nTest) = try openData()
        say("esvit \(command): \(backbone.origin)")
        for note in backbone.notes { say("  \(note)") }
        say("  \(backbone.config.depths.count)-stage Swin at \(backbone.inputSize) px; \(dataset): \(nTrain) training images, \(nTest) test images")
        return Setup(backbone: backbone, train: train, test: test, nTrain: nTrain, nTest: nTest,
                     mean: dataset.mean, std: dataset.std)
    }

    /// The labelled train and test sources and how many of each to use.
    public func openData() throws -> (ImageSource, ImageSource, Int, Int) {
        let train: ImageSource, test: ImageSource
        do { (train, test) = try dataset.labelledSplits(at: dataPath ?? dataset.defaultPath ?? "") } catch { throw EvalError.invalid("\(error)") }
        return (train, test, min(trainLimit ?? train.count, train.count), min(testLimit ?? test.count, test.count))
    }

    /// Train and test features of `kind`, from the cache when it matches, else extracted (sharded
    /// over ranks). `cacheSubdir` keeps a second network's features (the baseline) apart.
    public func features(_ s: Setup, kind: FeatureKind, comm: Communicator, cacheSubdir: String? = nil,
                         say: @escaping (String) -> Void) -> (Features, Features) {
        let cache = featuresDir.map { dir in
            FeatureCache(dir: cacheSubdir.map { (dir as NSString).appendingPathComponent($0) } ?? dir, key: cacheKey(s, kind: kind))
        }
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
        if let c = network.checkpoint, let a = try? FileManager.default.attributesOfItem(atPath: c) {
            parts.append("\(a[.size] ?? 0)"); parts.append("\((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)")
        }
        return parts.joined(separator: "|")
    }
}
