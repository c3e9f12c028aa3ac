// Every setting of `esvit pretrain`, declared once: flag, field, default, rule, recipe or run,
// help. The declaration drives parsing, --help, presets, the printed plan's flags, the resume
// difference report and the refusal messages (docs/usage.md). Adding an option is one entry
// here plus its use (and, for a new field, the field in PretrainConfig).
import ESData
import ESModel
import ESOptions
import Foundation

/// What a pretrain command line sets: the run's configuration and the three choices that are
/// not part of it.
public struct PretrainCommandLine: Sendable {
    public var config: PretrainConfig
    public var printPreset = false
    public var resume = false
    public var resumeFrom: String? = nil
    public init(config: PretrainConfig) { self.config = config }
}

extension Architecture: SettingChoice {}
extension DatasetKind: SettingChoice {}

public enum PretrainSettings {
    public typealias S = Setting<PretrainCommandLine>

    /// The fixed default of the setting at `path` (PretrainConfig's field initialisers read theirs here).
    public static func standard<V>(_ path: KeyPath<PretrainCommandLine, V>) -> V { registry.fixedDefault(path) }
    /// The flag of the setting at `path`, for messages.
    public static func flag(_ path: PartialKeyPath<PretrainCommandLine>) -> String { registry[path].flag }

    public static let registry = SettingRegistry<PretrainCommandLine>(model + recipe + length + data + run + evaluation + start)

    /// The options by section with their defaults, for --help.
    public static var help: String { registry.help(defaults: PretrainCommandLine(config: .standard), width: 79) }

    static let arch = "the architecture's"

    /// DINO warns that a final teacher temperature above this makes training unstable.
    static let maximumTeacherTemperature = 0.07
    static let teacherTemperature = SettingRule<Double> { flag, t in
        !(t > 0) ? "\(flag) must be > 0"
            : t > maximumTeacherTemperature + 1e-12 ? "\(flag) \(t) is above \(maximumTeacherTemperature), which DINO warns makes training unstable; use ≤ \(maximumTeacherTemperature)" : nil
    }
    static func heads(_ f: (HeadConfig) -> Int) -> String { "\(f(HeadConfig.cpu)) for swin_mini, \(f(HeadConfig.imagenet)) otherwise" }

    static let model: [S] = [
        .value("arch", \.config.arch, .recipe, section: "Model", default: .value(.standard),
               help: "Backbone architecture. swin_mini is the small Swin for 28–32 px inputs (CPU runs); the others are the Swin-T/S/B of the paper."),
        .value("patch-size", \.config.backbone.patchSize, .recipe, section: "Model", default: .follows(arch) { $0.config.arch.backbone().patchSize },
               help: "Patch size."),
        .value("embed-dim", \.config.backbone.embedDim, .recipe, section: "Model", default: .follows(arch) { $0.config.arch.backbone().embedDim },
               help: "Embedding width of stage 0."),
        .value("depths", \.config.backbone.depths, .recipe, section: "Model", default: .follows(arch) { $0.config.arch.backbone().depths },
               help: "Blocks per stage, comma separated (e.g. 2,2,6,2)."),
        .value("num-heads", \.config.backbone.numHeads, .recipe, section: "Model", default: .follows(arch) { $0.config.arch.backbone().numHeads },
               help: "Heads per stage, comma separated (e.g. 3,6,12,24)."),
        .value("window-size", \.config.backbone.windowSize, .recipe, section: "Model",
               default: .follows("7 for the ImageNet models, 4 for swin_mini") { $0.config.arch.backbone().windowSize },
               help: "Window size (14 is also common)."),
        .value("in-chans", \.config.backbone.inChans, .recipe, section: "Model", default: .follows(arch) { $0.config.arch.backbone().inChans },
               help: "Input channels."),
        .value("construct-size", \.config.backbone.constructSize, .recipe, section: "Model",
               default: .follows(arch) { $0.config.arch.backbone().constructSize },
               help: "Construction resolution that freezes window clamping and shifts (224 for the ImageNet models)."),
        .value("layer-norm-eps", \.config.backbone.layerNormEps, .recipe, section: "Model",
               default: .follows(arch) { $0.config.arch.backbone().layerNormEps },
               help: "LayerNorm eps (EsViT's 1e-6; timm and the official Swin releases use 1e-5)."),
        .value("drop-path-rate", \.config.backbone.dropPathRate, .recipe, section: "Model",
               default: .follows(Architecture.allCases.map { "\($0) \($0.backbone().dropPathRate)" }.joined(separator: ", ")) {
                   $0.config.arch.backbone().dropPathRate },
               rule: .unitInterval, help: "Stochastic depth rate of the student."),
        .value("out-dim", \.config.head.outDim, .recipe, section: "Model", default: .follows(heads(\.outDim)) { $0.config.arch.head.outDim },
               rule: .atLeast(2), help: "Head output dimension K."),
        .value("hidden-dim", \.config.head.hidden, .recipe, section: "Model", default: .follows(heads(\.hidden)) { $0.config.arch.head.hidden },
               rule: .atLeast(1), help: "Head hidden width."),
        .value("bottleneck-dim", \.config.head.bottleneck, .recipe, section: "Model",
               default: .follows(heads(\.bottleneck)) { $0.config.arch.head.bottleneck }, rule: .atLeast(1), help: "Head bottleneck width."),
        .value("norm-last-layer", \.config.head.normLastLayer, .recipe, section: "Model",
               default: .follows("\(HeadConfig.cpu.normLastLayer)") { $0.config.arch.head.normLastLayer },
               help: "Weight-normalise the last layer with g fixed at 1 (EsViT's Swin recipe: false)."),
        .value("use-dense-prediction", \.config.useDensePrediction, .recipe, section: "Model", default: .value(true),
               help: "Region-level loss on (EsViT, true) or off (DINO's view loss only, false)."),
        .optional("region-start-fraction", \.config.regionStartFraction, .recipe, section: "Model", default: "both from the start",
                  rule: .fraction, help: "The paper's late region loss: the view loss alone before this fraction of the run, both losses after (the region "
                      + "head starts training there, as if added fresh; the paper's Figure 4 adds it at 200 of 300 epochs, 0.667)."),
    ]

    static let recipe: [S] = [
        .value("momentum-teacher", \.config.momentumTeacher, .recipe, section: "Recipe", default: .value(0.996),
               rule: .unitInterval, help: "Base EMA momentum of the teacher (cosine to 1)."),
        .value("teacher-temp", \.config.teacherTemp, .recipe, section: "Recipe", default: .value(0.07), rule: teacherTemperature, help: "Final teacher temperature."),
        .value("warmup-teacher-temp", \.config.warmupTeacherTemp, .recipe, section: "Recipe", default: .value(0.04),
               rule: .above(0), help: "Initial teacher temperature."),
        .value("warmup-teacher-temp-epochs", \.config.warmupTeacherTempEpochs, .recipe, section: "Recipe", default: .value(30),
               help: "Epochs of linear teacher-temperature warmup (for runs sized in epochs)."),
        .value("lr", \.config.lr, .recipe, section: "Recipe", default: .value(0.0005),
               rule: .atLeast(0), help: "Base learning rate per 256 images (scaled by the global batch)."),
        .value("min-lr", \.config.minLR, .recipe, section: "Recipe", default: .value(1e-6), rule: .atLeast(0), help: "Final learning rate of the cosine schedule."),
        .value("warmup-epochs", \.config.warmupEpochs, .recipe, section: "Recipe", default: .value(10),
               help: "Epochs of linear lr warmup from 0 (for runs sized in epochs)."),
        .value("weight-decay", \.config.weightDecay, .recipe, section: "Recipe", default: .value(0.04), rule: .atLeast(0), help: "Initial weight decay (cosine schedule)."),
        .value("weight-decay-end", \.config.weightDecayEnd, .recipe, section: "Recipe", default: .value(0.4), rule: .atLeast(0), help: "Final weight decay."),
        .value("clip-grad", \.config.clipGrad, .recipe, section: "Recipe", default: .value(3.0), rule: .atLeast(0, "0 turns clipping off"), help: "Per-tensor gradient norm limit (0: off)."),
        .value("freeze-last-layer", \.config.freezeLastLayer, .recipe, section: "Recipe", default: .value(1),
               help: "Epochs during which the heads' last layers are frozen (for runs sized in epochs)."),
        .value("batch-size-per-rank", \.config.batchSizePerRank, .recipe, section: "Recipe", default: .value(32),
               rule: .atLeast(1), help: "Images per rank per micro-batch."),
        .value("grad-accum-steps", \.config.gradAccumSteps, .recipe, section: "Recipe", default: .value(1),
               rule: .atLeast(1), help: "Micro-batches accumulated per optimizer step (a large global batch on few CPUs)."),
        .optional("preset", \.config.preset, .run, section: "Recipe", valueName: "name",
                  help: "Named recipe: \(RecipePreset.all.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")). "
                      + "Options given on the command line override the preset's; --print-preset shows them."),
        .flag("print-preset", \.printPreset, .run, section: "Recipe", help: "Print the options the --preset sets and exit."),
    ]

    static let length: [S] = [
        .value("epochs", \.config.epochs, .recipe, section: "Run length", default: .value(100),
               rule: .atLeast(1), help: "Epochs of the schedule (or size the run with --iterations or --time-budget)."),
        .optional("iterations", \.config.iterations, .recipe, section: "Run length", rule: .atLeast(1), valueName: "n",
                  help: "Schedule length in optimizer iterations instead of epochs; the warmups and the freeze are then the fractions below."),
        .optional("time-budget", \.config.timeBudgetMinutes, .recipe, section: "Run length", rule: SettingRule { $1 > 0 ? nil : "\($0) must be a positive number of minutes" }, valueName: "minutes",
                  help: "Wall-clock budget for the whole command: times a few iterations, fixes the iteration count that fits (room kept for "
                      + "evaluations and checkpoints) and spans every schedule over it. Prints the plan and, at the end, the time used."),
        .value("warmup-fraction", \.config.warmupFraction, .recipe, section: "Run length", default: .value(10.0 / 300),
               rule: .fraction, help: "With --iterations/--time-budget: lr warmup as a fraction of the run (upstream: 10 of 300 epochs)."),
        .value("warmup-teacher-temp-fraction", \.config.warmupTeacherTempFraction, .recipe, section: "Run length", default: .value(30.0 / 300),
               rule: .fraction, help: "With --iterations/--time-budget: teacher-temperature warmup fraction (upstream: 30 of 300 epochs)."),
        .value("freeze-last-layer-fraction", \.config.freezeLastLayerFraction, .recipe, section: "Run length", default: .value(1.0 / 300),
               rule: .fraction, help: "With --iterations/--time-budget: last-layer freeze fraction (upstream: 1 of 300 epochs)."),
    ]

    static let data: [S] = [
        .value("global-crops-scale", \.config.crops.globalScale, .recipe, section: "Data", default: .base(nil),
               help: "Scale range of the global crops (two numbers)."),
        .value("blur-sigma", \.config.crops.blurSigma, .recipe, section: "Data", default: .base(nil),
               help: "GaussianBlur radius range in pixels (two numbers; upstream's suits 224 px crops, small images want less)."),
        .value("local-crops-number", \.config.crops.localCrops, .recipe, section: "Data",
               default: .follows("\(Architecture.swinMini.localCrops) for swin_mini, \(Architecture.swinTiny.localCrops) otherwise") {
                   $0.config.arch.localCrops },
               help: "Local crops per image."),
        .value("local-crops-scale", \.config.crops.localScale, .recipe, section: "Data", default: .base(nil),
               help: "Scale range of the local crops (two numbers)."),
        .value("global-crops-size", \.config.crops.globalSize, .recipe, section: "Data",
               default: .follows("the construction size") { $0.config.backbone.constructSize }, help: "Global crop size in pixels."),
        .value("local-crops-size", \.config.crops.localSize, .recipe, section: "Data",
               default: .follows("half the global size for swin_mini, \(Architecture.swinTiny.localSize(global: 224)) otherwise") {
                   $0.config.arch.localSize(global: $0.config.crops.globalSize) },
               help: "Local crop size in pixels."),
        .value("dataset", \.config.dataset, .recipe, section: "Data", default: .value(.standard),
               help: "fashion-mnist (IDX files), fashion-scenes (64-px scenes of Fashion-MNIST items, made from the IDX files) or folder "
                   + "(ImageNet layout: root/<class>/<image>.jpg)."),
        .value("data-path", \.config.dataPath, .run, section: "Data",
               default: .follows("for fashion-mnist and fashion-scenes: \(FashionMNIST.defaultRoot)") { $0.config.dataset.defaultPath ?? "" },
               help: "Dataset location."),
    ]

    static let run: [S] = [
        .value("output-dir", \.config.outputDir, .run, section: "Run", default: .base("required, except with --print-preset"), rule: SettingRule { $1.isEmpty ? "\($0) must not be empty" : nil }, valueName: "dir",
               help: "Output folder: checkpoints, log.txt, config.json, TensorBoard events."),
        .value("saveckp-freq", \.config.saveckpFreq, .run, section: "Run", default: .value(5), rule: .atLeast(0, "0: off"), help: "Keep a numbered checkpoint every N epochs (0: none)."),
        .value("saveckp-iters", \.config.saveckpIters, .run, section: "Run", default: .value(100),
               rule: .atLeast(0, "0: off"), help: "Overwrite checkpoint.safetensors every N iterations (0: only at epoch ends and the end)."),
        .value("seed", \.config.seed, .recipe, section: "Run", default: .value(0), help: "Seed for initialisation, sample order and every augmentation draw."),
        .value("threads", \.config.threads, .run, section: "Run",
               default: .follows("OPENBLAS_NUM_THREADS if set, else the cores this process may use") { _ in defaultThreads },
               rule: .atLeast(1), help: "Compute threads per rank."),
        .optional("batch-split", \.config.batchSplit, .run, section: "Run", default: "true",
                  help: "With --threads above 1: each thread takes whole parts of the batch through the backbone (true) or every kernel is "
                      + "split across the threads (false). The batch split measured 1.1-1.5x faster (docs/results.md §8.9)."),
        .value("loader-threads", \.config.loaderThreads, .run, section: "Run", default: .value(1), rule: .atLeast(1), help: "Data-loading threads per rank."),
        .optional("max-iters", \.config.maxIters, .run, section: "Run",
                  rule: .atLeast(1), help: "Stop after this global iteration, with a checkpoint (the schedules still span the whole run)."),
        .value("log-every", \.config.logEvery, .run, section: "Run", default: .value(10), rule: .atLeast(1), help: "Progress line (and log.txt line) every N iterations."),
        .value("check-every", \.config.checkEvery, .run, section: "Run", default: .value(50),
               rule: .atLeast(1), help: "Compare a parameter checksum across ranks every N iterations."),
    ]

    static let evaluation: [S] = [
        .value("eval-every", \.config.evalEvery, .run, section: "Evaluation during training", default: .value(0),
               rule: .atLeast(0), help: "k-NN of the teacher every N epochs (0: off), logged with the training metrics."),
        .value("eval-every-iters", \.config.evalEveryIters, .run, section: "Evaluation during training", default: .value(0),
               rule: .atLeast(0), help: "k-NN of the teacher every N iterations (0: off), also at the start and the end."),
        .value("eval-train-limit", \.config.evalTrainLimit, .run, section: "Evaluation during training", default: .value(10000),
               rule: .atLeast(1), help: "Periodic k-NN: training images in the memory bank (the first N)."),
        .value("eval-test-limit", \.config.evalTestLimit, .run, section: "Evaluation during training", default: .value(2000),
               rule: .atLeast(1), help: "Periodic k-NN: test images classified (the first N)."),
        .optional("eval-correspondence-limit", \.config.evalCorrespondenceLimit, .run, section: "Evaluation during training", default: "0",
                  rule: .atLeast(0, "0: off"), help: "Periodic evaluation: also the correspondence accuracy (eval-correspondence) on the first N test images (0: off)."),
        .optional("eval-data-path", \.config.evalDataPath, .run, section: "Evaluation during training", valueName: "dir",
                  help: "Periodic k-NN for --dataset folder: a folder with train/ and val/ (ImageNet layout)."),
    ]

    static let start: [S] = [
        .optional("init-from", \.config.initFrom, .run, section: "Start and resume",
                  help: "Start the backbones from these weights (.pth or safetensors: a released EsViT, an official or timm Swin, an esvit "
                      + "checkpoint or export); the heads start fresh. Ignored when the run resumes."),
        .optional("init-which", \.config.initWhich, .run, section: "Start and resume", default: "teacher", valueName: "teacher|student",
                  help: "Which network of an --init-from file that holds both (teacher or student)."),
        .optional("init-prefix", \.config.initPrefix, .run, section: "Start and resume", default: "found", valueName: "prefix",
                  help: "Where the backbone sits in the --init-from file (e.g. 'teacher.backbone.')."),
        .flag("resume", \.resume, .run, section: "Start and resume",
              help: "Require a checkpoint.safetensors in --output-dir to continue from (without it one is used if present)."),
        .optional("resume-from", \.resumeFrom, .run, section: "Start and resume", help: "Continue from this checkpoint file instead."),
    ]
}

/// The flag of a pretrain setting, for messages: `option(\.config.lr)` is "--lr".
func option(_ path: PartialKeyPath<PretrainCommandLine>) -> String { PretrainSettings.flag(path) }
