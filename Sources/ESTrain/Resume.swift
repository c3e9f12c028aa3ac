// Where a run starts. Rank 0 loads the checkpoint to resume from (if any) and every rank receives
// its whole state — student, teacher, AdamW moments and step counts, centers — and its position,
// so every rank starts equal; a --time-budget run continues the plan stored in the checkpoint.
import ESCheckpoint
import ESDistributed
import ESKernels
import ESObjective
import Foundation

/// What rank 0 sends every rank before the state buffers.
struct ResumeHeader: Codable {
    var error: String? = nil
    /// The error is a refused option (a file --resume, --resume-from or --init-from needs is missing): exit 64.
    var refusedOption = false
    var info: CheckpointInfo? = nil
    var steps: [Int] = []
    var planned: Int? = nil
    var plan: BudgetPlan? = nil
}

extension Trainer {
    func loadOrBroadcastState(_ model: EsViT) throws -> RunStart {
        var header = ResumeHeader()
        if comm.isRoot { header = readCheckpoint(into: model) }
        header = try comm.broadcast(header)
        if let e = header.error { throw header.refusedOption ? TrainError.option(e) : TrainError.checkpoint(e) }
        for buf in Trainer.stateBuffers(model) { comm.broadcast(buf.pointer, count: buf.count, root: 0) }
        model.optimizer.steps = header.steps
        guard let info = header.info else { return RunStart(worldSize: comm.size) }
        return RunStart(resumed: true, epoch: info.epoch, samplesIntoEpoch: info.samplesIntoEpoch, worldSize: info.worldSize,
                        globalSamplePosition: info.globalSamplePosition, plannedIterations: header.planned, budgetPlan: header.plan)
    }

    /// Rank 0: loads the checkpoint to resume from into `model`, if there is one.
    func readCheckpoint(into model: EsViT) -> ResumeHeader {
        var header = ResumeHeader()
        if let m = files.missingInput(resume: requireResume, resumeFrom: resumeFrom, initFrom: config.initFrom) {
            header.error = m; header.refusedOption = true
            return header
        }
        let path = resumeFrom ?? files.latestCheckpoint
        if FileManager.default.fileExists(atPath: path) {
            do {
                let file = try CheckpointFile.openForLoading(path)
                let info = try model.loadCheckpoint(from: file)
                header.info = info
                reporter.say("resuming from \(path): iteration \(info.iteration), epoch \(info.epoch), \(info.samplesIntoEpoch) samples into the epoch")
                // The run that wrote it (read from the same opened file); a record this build cannot read gives no notes.
                if let old = (try? file.runConfiguration(PretrainConfig.self)) ?? nil {
                    for d in recipeDifferences(from: old) { reporter.say("note: \(d)") }
                    if old.timeBudgetMinutes != nil, let n = old.iterations { header.planned = n; header.plan = old.budgetPlan }
                }
            } catch { header.error = "\(error)" }
        } else if let w = config.initFrom {
            do { for line in try model.initializeBackbone(from: w, which: config.initWhich ?? "teacher", prefix: config.initPrefix) { reporter.say(line) } }
            catch { header.error = "\(option(\.config.initFrom)): \(error)" }
        }
        if header.info != nil, let w = config.initFrom { reporter.say("note: \(option(\.config.initFrom)) \(w) is ignored: the run continues its checkpoint") }
        header.steps = model.optimizer.steps
        return header
    }

    /// The float state every rank holds identically besides the AdamW step counts: student,
    /// teacher, AdamW moments, both centers (broadcast at start; saved and restored around the
    /// time-budget probe).
    static func stateBuffers(_ model: EsViT) -> [FloatBuffer] {
        [model.student, model.teacher, model.optimizer.m, model.optimizer.v, model.centers.view, model.centers.region]
    }

    /// Recipe settings that differ from the checkpoint's run `old` (they take effect from here
    /// on), as "--lr was 0.0005 in the checkpoint's run, now 0.002". Not reported: the run
    /// settings, --iterations under a time budget (the plan is adopted from the checkpoint) and
    /// --epochs in a run sized in iterations.
    func recipeDifferences(from old: PretrainConfig) -> [String] { Self.recipeDifferences(from: old, to: config) }

    static func recipeDifferences(from old: PretrainConfig, to new: PretrainConfig) -> [String] {
        PretrainSettings.registry.differences(PretrainCommandLine(config: old), PretrainCommandLine(config: new), kind: .recipe) {
            ($0.path == \PretrainCommandLine.config.iterations && new.timeBudgetMinutes != nil)
                || ($0.path == \PretrainCommandLine.config.epochs && new.iterationMode)
        }
    }
}
