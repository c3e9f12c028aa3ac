// `esvit pretrain`: EsViT pretraining as one process, under `mpirun -np N` on one node, or
// across nodes. Options follow DINO/EsViT's names in kebab case; defaults follow the spec's
// recipe (§5.1) except where the CPU preset (swin_mini) sets its own crop sizes and head.
// Every cross-field rule is checked in validate(), before MPI starts or any data is read.
import ArgumentParser
import ESData
import ESDistributed
import ESKernels
import ESModel
import ESTrain
import Foundation

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "EsViT self-supervised pretraining (Swin + DINO view loss + region loss), data-parallel over MPI.",
        discussion: """
        Runs as a plain process, or under mpirun with any number of ranks on one or many nodes \
        (launch/run-node.sh, launch/run-cluster.sh, launch/slurm.sbatch set binding and threads). \
        The global batch is --batch-size-per-rank × ranks × --grad-accum-steps and the peak lr is \
        --lr × global batch / 256. An existing checkpoint.safetensors in --output-dir is resumed \
        automatically, from the exact iteration, also with a different number of ranks.

        Size a run by --epochs (upstream's schedules), by --iterations, or by --time-budget MINUTES \
        (the iterations that fit are planned from a timing probe). --preset NAME starts from a named \
        recipe; see docs/results.md for what they reach.

        Examples:
          launch/run-node.sh -n 2 -- pretrain --preset fm-quick --output-dir runs/fm      (the quick start)
          launch/run-node.sh -n 2 -- pretrain --preset fm-quick --time-budget 60 --output-dir runs/fm60
          launch/run-node.sh -n 2 -- pretrain --preset fm-2h-noregion --output-dir runs/fm2h   (best two-hour recipe)
          esvit pretrain --output-dir runs/fm --epochs 1 --max-iters 200
          launch/run-node.sh -n 2 -- pretrain --output-dir runs/fm --epochs 10
          mpirun -np 8 --hostfile hosts esvit pretrain --arch swin_tiny --dataset folder --data-path /data/imagenet/train --output-dir runs/in1k
        """)

    /// Every default below is read from here (PretrainConfig holds each one once).
    static let d = PretrainConfig.standard

    @OptionGroup(title: "Model") var archOptions: ArchOptions
    @Option(help: "Stochastic depth rate of the student (default: the architecture's, \(Architecture.allCases.map { "\($0.rawValue) \($0.backbone().dropPathRate)" }.joined(separator: ", "))).") var dropPathRate: Float?
    @Option(help: "Head output dimension K (default \(HeadConfig.cpu.outDim) for the CPU preset swin_mini, \(HeadConfig.imagenet.outDim) otherwise).") var outDim: Int?
    @Option(help: "Head hidden width (default \(HeadConfig.cpu.hidden) for swin_mini, \(HeadConfig.imagenet.hidden) otherwise).") var hiddenDim: Int?
    @Option(help: "Head bottleneck width (default \(HeadConfig.cpu.bottleneck) for swin_mini, \(HeadConfig.imagenet.bottleneck) otherwise).") var bottleneckDim: Int?
    @Option(help: "Weight-normalise the last layer with g fixed at 1 (true/false; EsViT's Swin recipe: false).") var normLastLayer: Bool = d.head.normLastLayer
    @Option(help: "Region-level loss on (EsViT, true) or off (DINO's view loss only, false).") var useDensePrediction: Bool = d.useDensePrediction

    @Option(help: "Base EMA momentum of the teacher (cosine to 1).") var momentumTeacher: Double = d.momentumTeacher
    @Option(help: "Final teacher temperature.") var teacherTemp: Double = d.teacherTemp
    @Option(help: "Initial teacher temperature.") var warmupTeacherTemp: Double = d.warmupTeacherTemp
    @Option(help: "Epochs of linear teacher-temperature warmup (default \(d.warmupTeacherTempEpochs); for runs sized in epochs).") var warmupTeacherTempEpochs: Int?
    @Option(help: "Base learning rate per 256 images (scaled by the global batch).") var lr: Double = d.lr
    @Option(help: "Final learning rate of the cosine schedule.") var minLr: Double = d.minLR
    @Option(help: "Epochs of linear lr warmup from 0 (default \(d.warmupEpochs); for runs sized in epochs).") var warmupEpochs: Int?
    @Option(help: "Initial weight decay (cosine schedule).") var weightDecay: Double = d.weightDecay
    @Option(help: "Final weight decay.") var weightDecayEnd: Double = d.weightDecayEnd
    @Option(help: "Per-tensor gradient norm limit (0: off).") var clipGrad: Double = d.clipGrad
    @Option(help: "Epochs during which the heads' last layers are frozen (default \(d.freezeLastLayer); for runs sized in epochs).") var freezeLastLayer: Int?
    @Option(help: "Epochs of the schedule (default \(d.epochs); or size the run with --iterations or --time-budget).") var epochs: Int?
    @Option(help: ArgumentHelp("Schedule length in optimizer iterations instead of epochs; the warmups and the freeze are then the fractions below.",
                               valueName: "n")) var iterations: Int?
    @Option(help: ArgumentHelp("Wall-clock budget for the whole command: times a few iterations, fixes the iteration count that fits "
                               + "(room kept for evaluations and checkpoints) and spans every schedule over it. Prints the plan and, at the end, the time used.",
                               valueName: "minutes")) var timeBudget: Double?
    @Option(help: "With --iterations/--time-budget: lr warmup as a fraction of the run (upstream: 10 of 300 epochs).") var warmupFraction: Double = d.warmupFraction
    @Option(help: "With --iterations/--time-budget: teacher-temperature warmup fraction (upstream: 30 of 300 epochs).") var warmupTeacherTempFraction: Double = d.warmupTeacherTempFraction
    @Option(help: "With --iterations/--time-budget: last-layer freeze fraction (upstream: 1 of 300 epochs).") var freezeLastLayerFraction: Double = d.freezeLastLayerFraction
    @Option(help: ArgumentHelp("Named recipe: \(RecipePreset.all.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")). "
                               + "Options given on the command line override the preset's; --print-preset shows them.", valueName: "name"))
    var preset: String?
    @Flag(help: "Print the options the --preset expands to and exit.") var printPreset = false
    @Option(help: "Images per rank per micro-batch.") var batchSizePerRank: Int = d.batchSizePerRank
    @Option(help: "Micro-batches accumulated per optimizer step (a large global batch on few CPUs).") var gradAccumSteps: Int = d.gradAccumSteps

    @Option(parsing: .upToNextOption, help: "Scale range of the global crops (two numbers).") var globalCropsScale: [Double] = d.crops.globalScale
    @Option(parsing: .upToNextOption, help: "GaussianBlur radius range in pixels (two numbers; upstream's 0.1 2.0 suits 224 px crops, small images want less).")
    var blurSigma: [Double] = d.crops.blurSigma
    @Option(help: "Local crops per image (default \(Architecture.swinMini.localCrops) for swin_mini, \(Architecture.swinTiny.localCrops) otherwise).") var localCropsNumber: Int?
    @Option(parsing: .upToNextOption, help: "Scale range of the local crops (two numbers).") var localCropsScale: [Double] = d.crops.localScale
    @Option(help: "Local crop size in pixels (default: half the global size for swin_mini, \(Architecture.swinTiny.localSize(global: 224)) otherwise).") var localCropsSize: Int?
    @Option(help: "Global crop size in pixels (default: the architecture's construction size).") var globalCropsSize: Int?
    @Option(help: "fashion-mnist (IDX files) or folder (ImageNet layout: root/<class>/<image>.jpg).") var dataset: DatasetKind = d.dataset
    @Option(help: "Dataset location (default for fashion-mnist: \(FashionMNIST.defaultRoot)).") var dataPath: String?

    @Option(help: "Output folder: checkpoints, log.txt, config.json (required, except with --print-preset).") var outputDir: String?
    @Option(help: "Keep a numbered checkpoint every N epochs (0: none).") var saveckpFreq: Int = d.saveckpFreq
    @Option(help: "Overwrite checkpoint.safetensors every N iterations (0: only at epoch ends and the end).") var saveckpIters: Int = d.saveckpIters
    @Option(help: "Seed for initialisation, sample order and every augmentation draw.") var seed: UInt64 = d.seed
    @Option(help: "Compute threads per rank (default: OPENBLAS_NUM_THREADS if set, else the cores this process may use).") var threads: Int?
    @Option(help: "Data-loading threads per rank.") var loaderThreads: Int = d.loaderThreads
    @Option(help: "Stop after this global iteration, with a checkpoint (the schedules still span --epochs).") var maxIters: Int?
    @Option(help: "Progress line (and log.txt line) every N iterations.") var logEvery: Int = d.logEvery
    @Option(help: "Compare a parameter checksum across ranks every N iterations.") var checkEvery: Int = d.checkEvery
    @Option(help: "k-NN of the teacher every N epochs (0: off), logged with the training metrics.") var evalEvery: Int = d.evalEvery
    @Option(help: "k-NN of the teacher every N iterations (0: off), also at the start and the end.") var evalEveryIters: Int = d.evalEveryIters
    @Option(help: "Periodic k-NN: training images in the memory bank (the first N).") var evalTrainLimit: Int = d.evalTrainLimit
    @Option(help: "Periodic k-NN: test images classified (the first N).") var evalTestLimit: Int = d.evalTestLimit
    @Option(help: "Periodic k-NN for --dataset folder: a folder with train/ and val/ (ImageNet layout).") var evalDataPath: String?
    @Flag(help: "Require a checkpoint.safetensors in --output-dir to continue from (without it one is used if present).") var resume = false
    @Option(help: "Continue from this checkpoint file instead.") var resumeFrom: String?

    static var defaultThreads: Int {
        if let s = ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// The configuration: the architecture's and dataset's defaults, then every option given.
    func resolved() throws -> PretrainConfig {
        let arch = archOptions.arch
        var c = PretrainConfig(arch: arch, dataset: dataset, outputDir: outputDir ?? "")
        c.backbone = try archOptions.config()
        if let dropPathRate { c.backbone.dropPathRate = dropPathRate }
        if let outDim { c.head.outDim = outDim }
        if let hiddenDim { c.head.hidden = hiddenDim }
        if let bottleneckDim { c.head.bottleneck = bottleneckDim }
        c.head.normLastLayer = normLastLayer
        c.useDensePrediction = useDensePrediction
        let g = globalCropsSize ?? c.backbone.constructSize
        c.crops = MultiCropConfig(globalSize: g, localSize: localCropsSize ?? arch.localSize(global: g), localCrops: localCropsNumber ?? arch.localCrops,
                                  globalScale: globalCropsScale, localScale: localCropsScale, mean: dataset.mean, std: dataset.std)
        c.crops.blurSigma = blurSigma
        if let dataPath { c.dataPath = dataPath }
        c.momentumTeacher = momentumTeacher; c.teacherTemp = teacherTemp; c.warmupTeacherTemp = warmupTeacherTemp
        c.lr = lr; c.minLR = minLr; c.weightDecay = weightDecay; c.weightDecayEnd = weightDecayEnd; c.clipGrad = clipGrad
        if let warmupTeacherTempEpochs { c.warmupTeacherTempEpochs = warmupTeacherTempEpochs }
        if let warmupEpochs { c.warmupEpochs = warmupEpochs }
        if let freezeLastLayer { c.freezeLastLayer = freezeLastLayer }
        if let epochs { c.epochs = epochs }
        c.iterations = iterations; c.timeBudgetMinutes = timeBudget
        c.warmupFraction = warmupFraction; c.warmupTeacherTempFraction = warmupTeacherTempFraction; c.freezeLastLayerFraction = freezeLastLayerFraction
        c.preset = preset
        c.batchSizePerRank = batchSizePerRank; c.gradAccumSteps = gradAccumSteps
        c.saveckpFreq = saveckpFreq; c.saveckpIters = saveckpIters; c.seed = seed
        c.threads = threads ?? Pretrain.defaultThreads; c.loaderThreads = loaderThreads
        c.maxIters = maxIters; c.logEvery = logEvery; c.checkEvery = checkEvery
        c.evalEvery = evalEvery; c.evalEveryIters = evalEveryIters; c.evalTrainLimit = evalTrainLimit; c.evalTestLimit = evalTestLimit
        c.evalDataPath = evalDataPath
        return c
    }

    func validate() throws {
        if let p = preset, RecipePreset.named(p) == nil {
            throw ValidationError("unknown --preset '\(p)'; choose one of \(RecipePreset.all.map(\.name).joined(separator: ", "))")
        }
        if printPreset { return }
        if outputDir == nil { throw ValidationError("missing --output-dir DIR: the folder for checkpoints, log.txt and config.json (a run already there is resumed)") }
        if iterations != nil && timeBudget != nil { throw ValidationError("use either --iterations or --time-budget, not both (a budgeted run prints the --iterations that reproduces it)") }
        if (iterations != nil || timeBudget != nil) && epochs != nil {
            throw ValidationError("--epochs sizes the run in epochs; with --iterations or --time-budget leave it out (the run length is set by those)")
        }
        if iterations != nil || timeBudget != nil {
            for (flag, given, fraction) in [("--warmup-epochs", warmupEpochs != nil, "--warmup-fraction"),
                                            ("--warmup-teacher-temp-epochs", warmupTeacherTempEpochs != nil, "--warmup-teacher-temp-fraction"),
                                            ("--freeze-last-layer", freezeLastLayer != nil, "--freeze-last-layer-fraction")] where given {
                throw ValidationError("\(flag) counts epochs, but this run is sized by --iterations/--time-budget; use \(fraction) (a fraction of the run) instead")
            }
        }
        let c = try resolved()
        if dataset.defaultPath == nil && dataPath == nil { throw ValidationError("--dataset \(dataset.rawValue) needs --data-path (\(dataset.installHint))") }
        if let p = c.problems().first { throw ValidationError(p) }
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: c.dataPath, isDirectory: &isDir) || !isDir.boolValue {
            throw ValidationError("--data-path \(c.dataPath) is not a folder (\(dataset.installHint))")
        }
        if let r = resumeFrom, !FileManager.default.fileExists(atPath: r) { throw ValidationError("--resume-from \(r) does not exist") }
        if resume && resumeFrom != nil { throw ValidationError("use either --resume (the checkpoint in --output-dir) or --resume-from PATH, not both") }
    }

    func run() throws {
        let startedAt = Trainer.now()
        // From here a stop signal (SLURM's early warning may come at any time) is only recorded:
        // the run stops after its first iteration at the latest, with a checkpoint.
        StopRequest.install()
        setvbuf(stdout, nil, _IOLBF, 0)
        if printPreset {
            guard let p = preset.flatMap(RecipePreset.named) else { throw ValidationError("--print-preset needs --preset NAME") }
            print("--preset \(p.name): \(p.summary)\n  " + p.options.joined(separator: " "))
            return
        }
        let config = try resolved()
        let comm = launchCommunicator()
        do {
            let source = try config.dataset.trainingImages(at: config.dataPath)
            try source.checkUsable()
            var evaluation: (train: ImageSource, test: ImageSource)? = nil
            if config.evaluates {
                // Fashion-MNIST evaluates on its test split; a folder dataset on --eval-data-path's train/ and val/.
                evaluation = config.dataset == .folder ? try config.dataset.labelledSplits(at: config.evalDataPath ?? "")
                                                       : (source, try FashionMNIST(root: config.dataPath, split: .test))
            }
            let trainer = try Trainer(config: config, comm: comm, source: source, resumeFrom: resumeFrom, requireResume: resume,
                                      evaluation: evaluation, startedAt: startedAt,
                                      faults: EnvironmentFaults(environment: ProcessInfo.processInfo.environment, rank: comm.rank))
            let summary = try trainer.run()
            if summary.stopSignal != nil {
                // Every rank stopped after the same iteration and the checkpoint is written.
                (comm as? MPICommunicator)?.finalize()
                Foundation.exit(StopRequest.exitCode)
            }
            if comm.isRoot, let ck = summary.checkpoint {
                print("checkpoints are in \(config.outputDir) (latest: \(ck)); they are safetensors files with student.*, teacher.*, "
                      + "optimizer.* and loss.* tensors and the run's configuration in the metadata.")
            }
        } catch {
            // Errors the trainer raises are agreed by every rank: rank 0 reports them. Anything
            // else (e.g. data missing on one node) is reported by the rank that saw it.
            if comm.isRoot || !(error is TrainError) {
                FileHandle.standardError.write(Data(((comm.size > 1 ? "rank \(comm.rank): " : "") + "error: \(error)\n").utf8))
            }
            Foundation.exit(1)
        }
        (comm as? MPICommunicator)?.finalize()
    }
}
