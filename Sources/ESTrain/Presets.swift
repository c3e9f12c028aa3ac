// Named recipes for `esvit pretrain --preset NAME`: each is a typed change to the configuration
// (a list of settings, each naming the option a user would type), found by the recipe search
// (docs/results.md §6). Options given on the command line override the preset's, and a run
// length given there (--time-budget, --iterations or --epochs) replaces the preset's, so
// `--preset fm-quick --time-budget 30` is the quick recipe for 30 minutes and
// `--preset fm-quick --iterations 3741` repeats a budgeted run exactly.
// `esvit pretrain --preset NAME --print-preset` shows the settings.
import ESData
import ESOptions
import Foundation

public struct RecipePreset {
    /// One setting of a preset: the field, its value as command-line words, and the change.
    public struct Setting {
        public let path: PartialKeyPath<PretrainCommandLine>
        public let words: [String]
        let change: (inout PretrainCommandLine) -> Void
        /// The flag a user would type (from the settings registry).
        public var option: String { PretrainSettings.flag(path) }
        public var value: String { words.joined(separator: " ") }
        static func set<V: SettingValue>(_ path: WritableKeyPath<PretrainCommandLine, V>, _ value: V) -> Setting {
            Setting(path: path, words: value.words) { $0[keyPath: path] = value }
        }
        static func set<V: SettingValue>(_ path: WritableKeyPath<PretrainCommandLine, V?>, _ value: V) -> Setting {
            Setting(path: path, words: value.words) { $0[keyPath: path] = value }
        }
    }
    public let name: String
    public let summary: String
    public let settings: [Setting]

    public func apply(to c: inout PretrainConfig) {
        var line = PretrainCommandLine(config: c)
        for s in settings { s.change(&line) }
        c = line.config
    }
    /// The settings as command-line options.
    public var commandLine: String { settings.map { "\($0.option) \($0.value)" }.joined(separator: " ") }

    /// Shared by both Fashion-MNIST recipes (see docs/results.md §6 for what was tried): patch 4
    /// (3× the images per second of patch 2, and a better network at initialisation), two local
    /// crops instead of six (1.3× faster), blur radius scaled to 32 px crops, base lr 0.002 (peak
    /// 5e-4 at batch 64), teacher momentum 0.99 and a constant teacher temperature of 0.04 for
    /// runs of a few thousand iterations.
    static let fashionMNIST: [Setting] = [
        .set(\.config.backbone.patchSize, 4), .set(\.config.crops.localCrops, 2),
        .set(\.config.crops.blurSigma, [0.1, 0.5]), .set(\.config.lr, 0.002), .set(\.config.momentumTeacher, 0.99),
        .set(\.config.warmupTeacherTemp, 0.04), .set(\.config.teacherTemp, 0.04),
    ]

    /// The two-hour recipe. At this budget the region loss costs about 1.5 k-NN points
    /// (docs/results.md §1), so the view-loss-only twin is shipped beside it; `fm-2h` keeps the
    /// region loss because the EsViT objective is what this tool is for.
    static let twoHours: [Setting] = [.set(\.config.timeBudgetMinutes, 120), .set(\.config.evalEveryIters, 2000)] + fashionMNIST

    /// The Fashion-MNIST scenes (docs/results.md §10): the Fashion-MNIST recipe at 64 px, so that a
    /// global crop ends with 4×4 final tokens and a 32-px local crop with 2×2.
    static let scenes: [Setting] = [.set(\.config.dataset, DatasetKind.fashionScenes), .set(\.config.backbone.constructSize, 64)]
        + fashionMNIST
    static func scenes(minutes: Double, region: Bool) -> [Setting] {
        [.set(\.config.timeBudgetMinutes, minutes), .set(\.config.evalEveryIters, minutes >= 60 ? 2000 : 500),
         .set(\.config.evalCorrespondenceLimit, 1000)] + scenes
            + (region ? [] : [.set(\.config.useDensePrediction, false)])
    }

    public static let all: [RecipePreset] = [
        RecipePreset(name: "fm-quick", summary: "Fashion-MNIST, 15 minutes on 2 cores (the README quick start)",
                     settings: [.set(\.config.timeBudgetMinutes, 15), .set(\.config.evalEveryIters, 500)] + fashionMNIST),
        RecipePreset(name: "fm-2h", summary: "Fashion-MNIST, two hours on 2 cores, the full EsViT objective (view + region loss)",
                     settings: twoHours),
        RecipePreset(name: "fm-2h-noregion", summary: "fm-2h with the region loss off: the best two-hour k-NN and linear probe (see docs/results.md)",
                     settings: twoHours + [.set(\.config.useDensePrediction, false)]),
        RecipePreset(name: "fs-quick", summary: "Fashion-MNIST scenes (64 px, 4×4 final tokens), 15 minutes, view + region loss",
                     settings: scenes(minutes: 15, region: true)),
        RecipePreset(name: "fs-30m", summary: "Fashion-MNIST scenes, 30 minutes, view + region loss (the region-loss experiment's arm)",
                     settings: scenes(minutes: 30, region: true)),
        RecipePreset(name: "fs-30m-noregion", summary: "fs-30m with the region loss off (the experiment's other arm)",
                     settings: scenes(minutes: 30, region: false)),
        RecipePreset(name: "fs-2h", summary: "Fashion-MNIST scenes, two hours, view + region loss",
                     settings: scenes(minutes: 120, region: true)),
        RecipePreset(name: "fs-2h-noregion", summary: "fs-2h with the region loss off",
                     settings: scenes(minutes: 120, region: false)),
    ]

    public static func named(_ name: String) -> RecipePreset? { all.first { $0.name == name } }
}
