// The resolved configuration of one pretraining run (what `esvit pretrain` parsed, with every
// default filled in), its cross-field rules, and the quantities derived from it and the world
// size (global batch, iterations per epoch, peak lr, schedules). Written to config.json and into
// every checkpoint's metadata. Option names follow DINO/EsViT (docs/algorithm.md §5.1) in kebab case.
import ESCheckpoint
import ESData
import ESModel
import ESOptim
import Foundation

public struct PretrainConfig: Codable, Equatable, Sendable {
    // Model.
    public var arch: Architecture
    public var backbone: SwinConfig
    public var head: HeadConfig
    /// Region loss on (EsViT) or off (DINO's view loss only).
    public var useDensePrediction: Bool = PretrainSettings.standard(\.config.useDensePrediction)
    /// The paper's late region loss (Figure 4: L_R added at epoch 200 of 300): the view loss
    /// alone before this fraction of the run, both after, the region head untouched until then
    /// (as if added fresh). nil: both losses from the start.
    public var regionStartFraction: Double? = nil
    // Recipe (docs/algorithm.md §5.1; per-256 base lr, scaled by the global batch).
    public var momentumTeacher: Double = PretrainSettings.standard(\.config.momentumTeacher)
    public var teacherTemp: Double = PretrainSettings.standard(\.config.teacherTemp)
    public var warmupTeacherTemp: Double = PretrainSettings.standard(\.config.warmupTeacherTemp)
    public var warmupTeacherTempEpochs: Int = PretrainSettings.standard(\.config.warmupTeacherTempEpochs)
    public var lr: Double = PretrainSettings.standard(\.config.lr)
    public var minLR: Double = PretrainSettings.standard(\.config.minLR)
    public var warmupEpochs: Int = PretrainSettings.standard(\.config.warmupEpochs)
    public var weightDecay: Double = PretrainSettings.standard(\.config.weightDecay)
    public var weightDecayEnd: Double = PretrainSettings.standard(\.config.weightDecayEnd)
    public var clipGrad: Double = PretrainSettings.standard(\.config.clipGrad)
    public var freezeLastLayer: Int = PretrainSettings.standard(\.config.freezeLastLayer)
    public var epochs: Int = PretrainSettings.standard(\.config.epochs)
    /// Runs sized in iterations instead of epochs (iteration mode): the schedule spans exactly
    /// `iterations` optimizer steps (--iterations, or the plan --time-budget made), and the
    /// warmups and the last-layer freeze are fractions of it. Upstream's epoch counts map to
    /// fractions of its 300-epoch recipe: lr warmup 10/300, temperature warmup 30/300, freeze 1/300.
    public var iterations: Int? = nil
    /// --time-budget in minutes; the planned iteration count is stored in `iterations`.
    public var timeBudgetMinutes: Double? = nil
    /// The plan --time-budget made (its measured step, checkpoint and evaluation times seed the
    /// deadline check of the run and of its resumptions).
    public var budgetPlan: BudgetPlan? = nil
    /// The --preset the options came from (for the record; its options are already applied).
    public var preset: String? = nil
    public var warmupFraction: Double = PretrainSettings.standard(\.config.warmupFraction)
    public var warmupTeacherTempFraction: Double = PretrainSettings.standard(\.config.warmupTeacherTempFraction)
    public var freezeLastLayerFraction: Double = PretrainSettings.standard(\.config.freezeLastLayerFraction)
    public var batchSizePerRank: Int = PretrainSettings.standard(\.config.batchSizePerRank)
    public var gradAccumSteps: Int = PretrainSettings.standard(\.config.gradAccumSteps)
    // Data.
    public var crops: MultiCropConfig
    public var dataset: DatasetKind
    public var dataPath: String
    // Run.
    public var outputDir: String
    public var saveckpFreq: Int = PretrainSettings.standard(\.config.saveckpFreq)           // epochs: numbered copies checkpoint<epoch>.safetensors
    public var saveckpIters: Int = PretrainSettings.standard(\.config.saveckpIters)        // iterations: checkpoint.safetensors (0: epoch ends only)
    public var seed: UInt64 = PretrainSettings.standard(\.config.seed)
    /// Start the student and teacher backbones from this weights file (.pth or safetensors) instead
    /// of the seed's initialisation; the heads start fresh. Ignored when the run resumes.
    public var initFrom: String? = nil
    /// Which network of an --init-from file that holds both ("teacher" or "student"; nil: teacher).
    /// Optional, as every field added after checkpoints were first written, so that the run
    /// configuration of an older checkpoint still decodes.
    public var initWhich: String? = nil
    /// Where the backbone sits in an --init-from file (nil: found).
    public var initPrefix: String? = nil
    public var threads = 1
    /// With more than one compute thread: each thread takes whole parts of the batch through the
    /// backbone (true; nil reads as true) or every kernel is split across the threads (false).
    /// Optional so that older run configurations still decode.
    public var batchSplit: Bool? = nil
    public var splitsBatch: Bool { batchSplit ?? true }
    public var loaderThreads: Int = PretrainSettings.standard(\.config.loaderThreads)
    public var maxIters: Int? = nil
    public var logEvery: Int = PretrainSettings.standard(\.config.logEvery)
    public var checkEvery: Int = PretrainSettings.standard(\.config.checkEvery)           // iterations between cross-rank parameter checksums
    // Periodic k-NN of the teacher (0: off): every N epochs and/or every N iterations, on the first
    // evalTrainLimit training images (memory bank) and evalTestLimit test images.
    public var evalEvery: Int = PretrainSettings.standard(\.config.evalEvery)
    public var evalEveryIters: Int = PretrainSettings.standard(\.config.evalEveryIters)
    public var evalTrainLimit: Int = PretrainSettings.standard(\.config.evalTrainLimit)
    public var evalTestLimit: Int = PretrainSettings.standard(\.config.evalTestLimit)
    /// Periodic evaluation also measures correspondence accuracy on the first N test images (the
    /// test scenes for fashion-scenes); nil or 0: not measured (nor without periodic evaluation).
    /// Optional so older records decode.
    public var evalCorrespondenceLimit: Int? = nil
    /// Labelled data for periodic k-NN of a folder dataset: EVAL_DATA_PATH/train and /val.
    public var evalDataPath: String? = nil

    public init(arch: Architecture, backbone: SwinConfig, head: HeadConfig, useDensePrediction: Bool, crops: MultiCropConfig,
                dataset: DatasetKind, dataPath: String, outputDir: String) {
        self.arch = arch; self.backbone = backbone; self.head = head; self.useDensePrediction = useDensePrediction
        self.crops = crops; self.dataset = dataset; self.dataPath = dataPath; self.outputDir = outputDir
    }

    /// The defaults for `arch` on `dataset`: the backbone and head of the architecture, crops at
    /// its construction size, the dataset's normalisation and location, and the recipe above.
    public init(arch: Architecture = .standard, dataset: DatasetKind = .standard, outputDir: String = "") {
        let backbone = arch.backbone()
        let g = backbone.constructSize
        crops = MultiCropConfig(globalSize: g, localSize: arch.localSize(global: g), localCrops: arch.localCrops, mean: dataset.mean, std: dataset.std)
        self.arch = arch; self.backbone = backbone; head = arch.head
        self.dataset = dataset; dataPath = dataset.defaultPath ?? ""; self.outputDir = outputDir
    }

    /// Every default in one value (`esvit pretrain`'s options read theirs from here).
    public static let standard = PretrainConfig()

    /// Every rule that needs no data and no ranks, one line per problem, each with a hint: each
    /// setting's own rule (PretrainSettings), then the rules across settings.
    public func problems() -> [String] {
        func flag(_ p: PartialKeyPath<PretrainCommandLine>) -> String { PretrainSettings.flag(p) }
        var p = PretrainSettings.registry.problems(PretrainCommandLine(config: self))
        if let b = backbone.problem() { p.append("architecture: \(b)") }
        if let c = crops.problem() { p.append(c) }
        if regionStartFraction != nil && !useDensePrediction {
            p.append("\(flag(\.config.regionStartFraction)) needs the region loss: drop \(flag(\.config.useDensePrediction)) false")
        }
        // In iteration mode the epoch-valued options below do not apply (the fractions do).
        let epochsFlag = flag(\.config.epochs)
        if !iterationMode && (warmupEpochs < 0 || warmupEpochs >= epochs && epochs > 0 && warmupEpochs > 0) {
            p.append("\(flag(\.config.warmupEpochs)) \(warmupEpochs) must be < \(epochsFlag) \(epochs) (the lr would never leave warmup); lower it or use more epochs")
        }
        if !iterationMode && (warmupTeacherTempEpochs < 0 || warmupTeacherTempEpochs > epochs) {
            p.append("\(flag(\.config.warmupTeacherTempEpochs)) \(warmupTeacherTempEpochs) must be between 0 and \(epochsFlag) \(epochs) "
                     + "(the temperature would never reach \(flag(\.config.teacherTemp))); lower it for short runs")
        }
        if !iterationMode && (freezeLastLayer < 0 || freezeLastLayer >= epochs && freezeLastLayer > 0) {
            p.append("\(flag(\.config.freezeLastLayer)) \(freezeLastLayer) must be < \(epochsFlag) \(epochs), or the last layer never trains; use 0 for no freezing")
        }
        if evaluates && dataset == .folder && evalDataPath == nil {
            p.append("periodic k-NN of a folder dataset needs \(flag(\.config.evalDataPath)) (a folder with train/ and val/ in the ImageNet layout)")
        }
        return p
    }

    public var evaluates: Bool { evalEvery > 0 || evalEveryIters > 0 }

    /// Sized in iterations (--iterations or --time-budget) rather than epochs.
    public var iterationMode: Bool { iterations != nil || timeBudgetMinutes != nil }

    /// Iteration mode: the warmups and the freeze in iterations, for a run of `total` iterations.
    public func fractionLengths(total: Int) -> (warmup: Int, temperature: Int, freeze: Int) {
        func n(_ f: Double) -> Int { Int((f * Double(total)).rounded()) }
        return (n(warmupFraction), n(warmupTeacherTempFraction), n(freezeLastLayerFraction))
    }

    /// The model configuration the objective is built with (per-rank micro-batch).
    public var objective: EsViTConfig {
        EsViTConfig(backbone: backbone, head: head, useDense: useDensePrediction, batch: batchSizePerRank,
                    localCrops: crops.localCrops, globalSize: crops.globalSize, localSize: crops.localSize)
    }
}

/// What follows from the configuration, the dataset size and the world size.
public struct RunLayout: Codable, Equatable, Sendable {
    public let worldSize: Int, datasetCount: Int
    /// Images per optimizer step over all ranks and accumulation steps.
    public let globalBatch: Int
    /// Loader batches per epoch on each rank (DistributedSampler padding, drop_last) and
    /// optimizer iterations per epoch (loader batches / accumulation steps, rounded down).
    public let loaderIterationsPerEpoch: Int, iterationsPerEpoch: Int
    public let totalIterations: Int
    /// Iteration at which this run stops (--max-iters or the end of the schedule).
    public let stopIteration: Int
    public let peakLR: Double

    public init(config c: PretrainConfig, worldSize: Int, datasetCount: Int) throws {
        self.worldSize = worldSize; self.datasetCount = datasetCount
        globalBatch = c.batchSizePerRank * worldSize * c.gradAccumSteps
        loaderIterationsPerEpoch = ESOptim.iterationsPerEpoch(samples: datasetCount, worldSize: worldSize, batchPerRank: c.batchSizePerRank)
        iterationsPerEpoch = loaderIterationsPerEpoch / c.gradAccumSteps
        guard iterationsPerEpoch > 0 else {
            throw TrainError.config("the dataset has \(datasetCount) images, fewer than one global batch of \(globalBatch) "
                                    + "(\(c.batchSizePerRank) per rank × \(worldSize) ranks × \(c.gradAccumSteps) accumulation steps); lower \(option(\.config.batchSizePerRank)) or \(option(\.config.gradAccumSteps))")
        }
        totalIterations = c.iterations ?? c.epochs * iterationsPerEpoch
        stopIteration = min(totalIterations, c.maxIters ?? Int.max)
        peakLR = LearningRate.peak(base: c.lr, globalBatch: globalBatch)
        if c.minLR > peakLR {
            let minLR = option(\.config.minLR)
            throw TrainError.config("\(minLR) \(c.minLR) is above the peak lr \(peakLR) (\(option(\.config.lr)) \(c.lr) × global batch \(globalBatch) / 256); lower \(minLR)")
        }
    }

    /// Epochs the run touches (the last one possibly in part).
    public var epochs: Int { (totalIterations + iterationsPerEpoch - 1) / iterationsPerEpoch }

    /// The first iteration of the region loss (0: from the start).
    public func regionStartIteration(_ c: PretrainConfig) -> Int { Int(((c.regionStartFraction ?? 0) * Double(totalIterations)).rounded()) }

    public func schedule(_ c: PretrainConfig) -> TrainingSchedule {
        var s = shapes(c)
        s.regionStartIteration = regionStartIteration(c)
        return s
    }

    func shapes(_ c: PretrainConfig) -> TrainingSchedule {
        if c.iterationMode {
            let f = c.fractionLengths(total: totalIterations)
            return TrainingSchedule(peakLR: peakLR, minLR: c.minLR, warmupIterations: f.warmup,
                                    weightDecay: c.weightDecay, weightDecayEnd: c.weightDecayEnd, momentumTeacher: c.momentumTeacher,
                                    warmupTeacherTemp: c.warmupTeacherTemp, teacherTemp: c.teacherTemp,
                                    warmupTeacherTempIterations: f.temperature, totalIterations: totalIterations,
                                    iterationsPerEpoch: iterationsPerEpoch, freezeLastLayerIterations: f.freeze, clipGrad: c.clipGrad)
        }
        return TrainingSchedule(peakLR: peakLR, minLR: c.minLR, warmupEpochs: c.warmupEpochs,
                         weightDecay: c.weightDecay, weightDecayEnd: c.weightDecayEnd, momentumTeacher: c.momentumTeacher,
                         warmupTeacherTemp: c.warmupTeacherTemp, teacherTemp: c.teacherTemp,
                         warmupTeacherTempEpochs: c.warmupTeacherTempEpochs, epochs: c.epochs, iterationsPerEpoch: iterationsPerEpoch,
                         freezeLastLayerEpochs: c.freezeLastLayer, clipGrad: c.clipGrad)
    }
}

public enum TrainError: Error, CustomStringConvertible {
    /// `option`: an option refused once MPI has started (rank 0 found a file it names missing); exit 64 like any refused option.
    case config(String), data(String), checkpoint(String), nonFinite(String), mismatch(String), option(String)
    public var description: String {
        switch self {
        case .config(let m), .data(let m), .checkpoint(let m), .nonFinite(let m), .mismatch(let m), .option(let m): return m
        }
    }
}
