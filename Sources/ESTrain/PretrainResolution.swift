// From parsed `esvit pretrain` options to the run's configuration (defaults, then the preset,
// then the options given) and the cross-field rules that refuse a command before any work.
import ArgumentParser
import ESData
import ESDistributed
import ESModel
import ESOptions
import Foundation

/// `value`, when given, replaces `field`.
@inline(__always) func take<T>(_ value: T?, _ field: inout T) { if let value { field = value } }
/// A list option, when given (non-empty), replaces `field`.
@inline(__always) func take(_ value: [Double], _ field: inout [Double]) { if !value.isEmpty { field = value } }

extension PretrainOptions {
    /// The named preset (nil: none given; an unknown name is refused by validate()).
    public var recipe: RecipePreset? { preset.flatMap(RecipePreset.named) }

    /// The configuration: the architecture's and dataset's defaults, the preset, then every option given.
    public func resolved() throws -> PretrainConfig {
        let arch = archOptions.arch
        var c = PretrainConfig(arch: arch, dataset: dataset ?? PretrainOptions.d.dataset, outputDir: outputDir ?? "")
        if let recipe {
            recipe.apply(to: &c)
            // The run length is one choice: a length given on the command line replaces the preset's.
            if iterations != nil || timeBudget != nil || epochs != nil { c.timeBudgetMinutes = nil; c.iterations = nil }
        }
        if let dataset { c.dataset = dataset }   // the command line wins over a preset's dataset
        if c.dataset != PretrainOptions.d.dataset || dataset != nil {             // the final dataset's normalisation and location
            c.crops.mean = c.dataset.mean; c.crops.std = c.dataset.std; c.dataPath = c.dataset.defaultPath ?? ""
        }
        try archOptions.apply(to: &c.backbone)
        take(dropPathRate, &c.backbone.dropPathRate)
        take(outDim, &c.head.outDim); take(hiddenDim, &c.head.hidden); take(bottleneckDim, &c.head.bottleneck)
        take(normLastLayer, &c.head.normLastLayer); take(useDensePrediction, &c.useDensePrediction)
        if let regionStartFraction { c.regionStartFraction = regionStartFraction }
        let g = globalCropsSize ?? c.backbone.constructSize
        c.crops.globalSize = g; c.crops.localSize = localCropsSize ?? arch.localSize(global: g)
        take(localCropsNumber, &c.crops.localCrops)
        take(globalCropsScale, &c.crops.globalScale); take(localCropsScale, &c.crops.localScale); take(blurSigma, &c.crops.blurSigma)
        take(dataPath, &c.dataPath)
        take(momentumTeacher, &c.momentumTeacher); take(teacherTemp, &c.teacherTemp); take(warmupTeacherTemp, &c.warmupTeacherTemp)
        take(lr, &c.lr); take(minLr, &c.minLR); take(weightDecay, &c.weightDecay); take(weightDecayEnd, &c.weightDecayEnd)
        take(clipGrad, &c.clipGrad)
        take(warmupTeacherTempEpochs, &c.warmupTeacherTempEpochs); take(warmupEpochs, &c.warmupEpochs)
        take(freezeLastLayer, &c.freezeLastLayer); take(epochs, &c.epochs)
        if let iterations { c.iterations = iterations }
        if let timeBudget { c.timeBudgetMinutes = timeBudget }
        take(warmupFraction, &c.warmupFraction); take(warmupTeacherTempFraction, &c.warmupTeacherTempFraction)
        take(freezeLastLayerFraction, &c.freezeLastLayerFraction)
        c.preset = preset
        take(batchSizePerRank, &c.batchSizePerRank); take(gradAccumSteps, &c.gradAccumSteps)
        take(saveckpFreq, &c.saveckpFreq); take(saveckpIters, &c.saveckpIters); take(seed, &c.seed)
        c.initFrom = initFrom; c.initWhich = initWhich; c.initPrefix = initPrefix
        c.threads = threads ?? defaultThreads
        if let batchSplit { c.batchSplit = batchSplit }
        take(loaderThreads, &c.loaderThreads)
        c.maxIters = maxIters
        take(logEvery, &c.logEvery); take(checkEvery, &c.checkEvery)
        take(evalEvery, &c.evalEvery); take(evalEveryIters, &c.evalEveryIters)
        take(evalTrainLimit, &c.evalTrainLimit); take(evalTestLimit, &c.evalTestLimit)
        if let n = evalCorrespondenceLimit { c.evalCorrespondenceLimit = n }
        c.evalDataPath = evalDataPath
        return c
    }

    public func validate() throws {
        if let p = preset, RecipePreset.named(p) == nil {
            throw ValidationError("unknown --preset '\(p)'; choose one of \(RecipePreset.all.map(\.name).joined(separator: ", "))")
        }
        if printPreset { return }
        if outputDir == nil { throw ValidationError("missing --output-dir DIR: the folder for checkpoints, log.txt and config.json (a run already there is resumed)") }
        if iterations != nil && timeBudget != nil { throw ValidationError("use either --iterations or --time-budget, not both (a budgeted run prints the --iterations that reproduces it)") }
        if (iterations != nil || timeBudget != nil) && epochs != nil {
            throw ValidationError("--epochs sizes the run in epochs; with --iterations or --time-budget leave it out (the run length is set by those)")
        }
        let c = try resolved()
        if c.iterationMode {
            for (flag, given, fraction) in [("--warmup-epochs", warmupEpochs != nil, "--warmup-fraction"),
                                            ("--warmup-teacher-temp-epochs", warmupTeacherTempEpochs != nil, "--warmup-teacher-temp-fraction"),
                                            ("--freeze-last-layer", freezeLastLayer != nil, "--freeze-last-layer-fraction")] where given {
                throw ValidationError("\(flag) counts epochs, but this run is sized by --iterations/--time-budget; use \(fraction) (a fraction of the run) instead")
            }
        }
        if c.dataset.defaultPath == nil && dataPath == nil { throw ValidationError("--dataset \(c.dataset) needs --data-path (\(c.dataset.installHint))") }
        if let p = c.problems().first { throw ValidationError(p) }
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: c.dataPath, isDirectory: &isDir) || !isDir.boolValue {
            throw ValidationError("--data-path \(c.dataPath) is not a folder (\(c.dataset.installHint))")
        }
        if let w = c.initWhich, !["teacher", "student"].contains(w) { throw ValidationError("--init-which takes teacher or student, got '\(w)'") }
        if initFrom == nil && (initWhich != nil || initPrefix != nil) { throw ValidationError("--init-which and --init-prefix need --init-from FILE") }
        if resume && resumeFrom != nil { throw ValidationError("use either --resume (the checkpoint in --output-dir) or --resume-from PATH, not both") }
        // Files only rank 0 reads (--output-dir may live on rank 0's node alone): checked here for a
        // plain process; under a launcher rank 0 makes the same check after MPI starts (exit 64 too).
        if LaunchEnvironment().tasks == 1, let m = RunFiles(dir: c.outputDir).missingInput(resume: resume, resumeFrom: resumeFrom, initFrom: initFrom) {
            throw ValidationError(m)
        }
    }
}
