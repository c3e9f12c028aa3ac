// `esvit pretrain`'s options, as a library so tests parse them in-process. Every option that
// sets a configuration field is optional: nil means "not given", and the value comes from the
// --preset (a typed change to the configuration) or else from PretrainConfig, where each default
// is written once. Resolution order: the architecture's and dataset's defaults, the preset, the
// options given. Every cross-field rule is checked in validate(), before MPI starts or any data
// is read.
import ArgumentParser
import ESData
import ESModel
import ESOptions
import Foundation

/// "TEXT (default: VALUE)": help that reads its default from where it is defined.
func help<T>(_ text: String, _ value: T) -> ArgumentHelp { ArgumentHelp("\(text) (default: \(value))") }

public struct PretrainOptions: ParsableArguments {
    public init() {}
    static let d = PretrainConfig.standard

    @OptionGroup(title: "Model") public var archOptions: ArchOptions
    @Option(help: "Stochastic depth rate of the student (default: the architecture's, \(Architecture.allCases.map { "\($0) \($0.backbone().dropPathRate)" }.joined(separator: ", "))).") var dropPathRate: Float?
    @Option(help: "Head output dimension K (default \(HeadConfig.cpu.outDim) for swin_mini, \(HeadConfig.imagenet.outDim) otherwise).") var outDim: Int?
    @Option(help: "Head hidden width (default \(HeadConfig.cpu.hidden) for swin_mini, \(HeadConfig.imagenet.hidden) otherwise).") var hiddenDim: Int?
    @Option(help: "Head bottleneck width (default \(HeadConfig.cpu.bottleneck) for swin_mini, \(HeadConfig.imagenet.bottleneck) otherwise).") var bottleneckDim: Int?
    @Option(help: help("Weight-normalise the last layer with g fixed at 1 (true/false; EsViT's Swin recipe: false).", d.head.normLastLayer)) var normLastLayer: Bool?
    @Option(help: help("Region-level loss on (EsViT, true) or off (DINO's view loss only, false).", d.useDensePrediction)) var useDensePrediction: Bool?
    @Option(help: "The paper's late region loss: the view loss alone before this fraction of the run, both losses after (the region head starts training there, as if added fresh; the paper's Figure 4 adds it at 200 of 300 epochs, 0.667). Default: both from the start.") var regionStartFraction: Double?

    @Option(help: help("Base EMA momentum of the teacher (cosine to 1).", d.momentumTeacher)) var momentumTeacher: Double?
    @Option(help: help("Final teacher temperature.", d.teacherTemp)) var teacherTemp: Double?
    @Option(help: help("Initial teacher temperature.", d.warmupTeacherTemp)) var warmupTeacherTemp: Double?
    @Option(help: help("Epochs of linear teacher-temperature warmup (for runs sized in epochs).", d.warmupTeacherTempEpochs)) var warmupTeacherTempEpochs: Int?
    @Option(help: help("Base learning rate per 256 images (scaled by the global batch).", d.lr)) var lr: Double?
    @Option(help: help("Final learning rate of the cosine schedule.", d.minLR)) var minLr: Double?
    @Option(help: help("Epochs of linear lr warmup from 0 (for runs sized in epochs).", d.warmupEpochs)) var warmupEpochs: Int?
    @Option(help: help("Initial weight decay (cosine schedule).", d.weightDecay)) var weightDecay: Double?
    @Option(help: help("Final weight decay.", d.weightDecayEnd)) var weightDecayEnd: Double?
    @Option(help: help("Per-tensor gradient norm limit (0: off).", d.clipGrad)) var clipGrad: Double?
    @Option(help: help("Epochs during which the heads' last layers are frozen (for runs sized in epochs).", d.freezeLastLayer)) var freezeLastLayer: Int?
    @Option(help: help("Epochs of the schedule (or size the run with --iterations or --time-budget).", d.epochs)) var epochs: Int?
    @Option(help: ArgumentHelp("Schedule length in optimizer iterations instead of epochs; the warmups and the freeze are then the fractions below.",
                               valueName: "n")) var iterations: Int?
    @Option(help: ArgumentHelp("Wall-clock budget for the whole command: times a few iterations, fixes the iteration count that fits "
                               + "(room kept for evaluations and checkpoints) and spans every schedule over it. Prints the plan and, at the end, the time used.",
                               valueName: "minutes")) var timeBudget: Double?
    @Option(help: help("With --iterations/--time-budget: lr warmup as a fraction of the run (upstream: 10 of 300 epochs).", d.warmupFraction)) var warmupFraction: Double?
    @Option(help: help("With --iterations/--time-budget: teacher-temperature warmup fraction (upstream: 30 of 300 epochs).", d.warmupTeacherTempFraction)) var warmupTeacherTempFraction: Double?
    @Option(help: help("With --iterations/--time-budget: last-layer freeze fraction (upstream: 1 of 300 epochs).", d.freezeLastLayerFraction)) var freezeLastLayerFraction: Double?
    @Option(help: ArgumentHelp("Named recipe: \(RecipePreset.all.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")). "
                               + "Options given on the command line override the preset's; --print-preset shows them.", valueName: "name"))
    public var preset: String?
    @Flag(help: "Print the options the --preset sets and exit.") public var printPreset = false
    @Option(help: help("Images per rank per micro-batch.", d.batchSizePerRank)) var batchSizePerRank: Int?
    @Option(help: help("Micro-batches accumulated per optimizer step (a large global batch on few CPUs).", d.gradAccumSteps)) var gradAccumSteps: Int?

    @Option(parsing: .upToNextOption, help: help("Scale range of the global crops (two numbers).", d.crops.globalScale)) var globalCropsScale: [Double] = []
    @Option(parsing: .upToNextOption, help: help("GaussianBlur radius range in pixels (two numbers; upstream's suits 224 px crops, small images want less).", d.crops.blurSigma))
    var blurSigma: [Double] = []
    @Option(help: "Local crops per image (default \(Architecture.swinMini.localCrops) for swin_mini, \(Architecture.swinTiny.localCrops) otherwise).") var localCropsNumber: Int?
    @Option(parsing: .upToNextOption, help: help("Scale range of the local crops (two numbers).", d.crops.localScale)) var localCropsScale: [Double] = []
    @Option(help: "Local crop size in pixels (default: half the global size for swin_mini, \(Architecture.swinTiny.localSize(global: 224)) otherwise).") var localCropsSize: Int?
    @Option(help: "Global crop size in pixels (default: the architecture's construction size).") var globalCropsSize: Int?
    @Option(help: help("fashion-mnist (IDX files), fashion-scenes (64-px scenes of Fashion-MNIST items, made from the IDX files) or folder (ImageNet layout: root/<class>/<image>.jpg).", d.dataset)) var dataset: DatasetKind?
    @Option(help: "Dataset location (default for fashion-mnist: \(FashionMNIST.defaultRoot)).") var dataPath: String?

    @Option(help: "Output folder: checkpoints, log.txt, config.json (required, except with --print-preset).") public var outputDir: String?
    @Option(help: help("Keep a numbered checkpoint every N epochs (0: none).", d.saveckpFreq)) var saveckpFreq: Int?
    @Option(help: help("Overwrite checkpoint.safetensors every N iterations (0: only at epoch ends and the end).", d.saveckpIters)) var saveckpIters: Int?
    @Option(help: help("Seed for initialisation, sample order and every augmentation draw.", d.seed)) var seed: UInt64?
    @Option(help: "Compute threads per rank (default: OPENBLAS_NUM_THREADS if set, else the cores this process may use).") var threads: Int?
    @Option(help: help("With --threads above 1: each thread takes whole parts of the batch through the backbone (true) or every kernel is split across the threads (false). The batch split measured 1.1-1.5x faster (docs/results.md §8.9).", d.splitsBatch)) var batchSplit: Bool?
    @Option(help: help("Data-loading threads per rank.", d.loaderThreads)) var loaderThreads: Int?
    @Option(help: "Stop after this global iteration, with a checkpoint (the schedules still span --epochs).") var maxIters: Int?
    @Option(help: help("Progress line (and log.txt line) every N iterations.", d.logEvery)) var logEvery: Int?
    @Option(help: help("Compare a parameter checksum across ranks every N iterations.", d.checkEvery)) var checkEvery: Int?
    @Option(help: help("k-NN of the teacher every N epochs (0: off), logged with the training metrics.", d.evalEvery)) var evalEvery: Int?
    @Option(help: help("k-NN of the teacher every N iterations (0: off), also at the start and the end.", d.evalEveryIters)) var evalEveryIters: Int?
    @Option(help: help("Periodic k-NN: training images in the memory bank (the first N).", d.evalTrainLimit)) var evalTrainLimit: Int?
    @Option(help: help("Periodic k-NN: test images classified (the first N).", d.evalTestLimit)) var evalTestLimit: Int?
    @Option(help: "Periodic evaluation: also the correspondence accuracy (eval-correspondence) on the first N test images (0: off).") var evalCorrespondenceLimit: Int?
    @Option(help: "Periodic k-NN for --dataset folder: a folder with train/ and val/ (ImageNet layout).") var evalDataPath: String?
    @Option(help: "Start the backbones from these weights (.pth or safetensors: a released EsViT, an official or timm Swin, an esvit checkpoint or export); the heads start fresh. Ignored when the run resumes.") var initFrom: String?
    @Option(help: "Which network of an --init-from file that holds both (teacher or student; default teacher).") var initWhich: String?
    @Option(help: "Where the backbone sits in the --init-from file (e.g. 'teacher.backbone.'); found by default.") var initPrefix: String?
    @Flag(help: "Require a checkpoint.safetensors in --output-dir to continue from (without it one is used if present).") public var resume = false
    @Option(help: "Continue from this checkpoint file instead.") public var resumeFrom: String?
}
