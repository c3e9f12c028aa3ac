// Every line a training run prints (rank 0's standard output) and every record it appends to
// log.txt: the plan at start, progress lines with ETA, epoch summaries, evaluations, checkpoints,
// warnings and the closing summary. Other ranks print nothing; their reporter is silent.
import ESEval
import ESKernels
import ESObjective
import Foundation

final class RunReporter {
    let isRoot: Bool
    let files: RunFiles
    private let sink: (String) -> Void
    /// The iteration this process starts from; set once the plan is known, before anything is logged.
    var firstIteration = 0
    /// TensorBoard's copy of the log (rank 0), opened on the first record.
    private(set) lazy var board = TensorBoardLog(dir: files.dir, resumedAt: firstIteration)

    init(isRoot: Bool, files: RunFiles, say: @escaping (String) -> Void) {
        self.isRoot = isRoot; self.files = files; sink = say
    }

    /// One line of standard output (rank 0 only).
    func say(_ line: String) { if isRoot { sink(line) } }
    /// One JSON record appended to log.txt (rank 0 only); its numbers also go to TensorBoard at
    /// step `iteration` (the record's own "iteration" field when it has one).
    func log(_ fields: [String: Any], iteration: Int? = nil) {
        guard isRoot else { return }
        files.appendLog(RunFiles.jsonLine(fields))
        if let step = iteration ?? fields["iteration"] as? Int {
            let hadFailed = board.failure != nil
            board.write(step: step, fields: fields)
            if !hadFailed, let f = board.failure { say("warning: \(f); TensorBoard logging stops (log.txt goes on)") }
        }
    }

    func plan(_ p: RunPlan, model: EsViT) {
        let c = p.config, L = p.layout
        say("esvit pretrain: \(c.arch) (patch \(c.backbone.patchSize), C \(c.backbone.embedDim), depths \(c.backbone.depths.map(String.init).joined(separator: "-")), window \(c.backbone.windowSize)), "
            + "head \(c.head.hidden)/\(c.head.bottleneck)/K \(c.head.outDim), region loss \(regionText(c, L))")
        say("  data: \(c.dataset) at \(c.dataPath), \(L.datasetCount) images; crops 2×\(c.crops.globalSize) + \(c.crops.localCrops)×\(c.crops.localSize) px")
        say("  ranks \(L.worldSize) × batch \(c.batchSizePerRank) × accumulation \(c.gradAccumSteps) = global batch \(L.globalBatch); "
            + "\(c.threads) compute thread(s)" + (c.threads > 1 ? (c.splitsBatch ? " (batch split)" : " (every kernel split)") : "")
            + " and \(c.loaderThreads) loader thread(s) per rank; hosts: \(p.hosts)")
        say(scheduleLine(c, L))
        say("  memory per rank: parameters, gradients, teacher and AdamW \(formatMiB(model.parameterBytes)); activations, heads and loss \(formatMiB(model.workspaceBytes))")
        say("  output: \(c.outputDir) (checkpoint.safetensors every \(c.saveckpIters > 0 ? "\(c.saveckpIters) iterations and " : "")epoch end; numbered copies every \(c.saveckpFreq) epochs; log.txt; config.json)")
        say("  this run: iterations \(p.firstIteration) → \(L.stopIteration)" + (L.stopIteration < L.totalIterations ? " (\(option(\.config.maxIters)))" : ""))
    }

    /// "on", "off", or when a late schedule switches it on.
    func regionText(_ c: PretrainConfig, _ L: RunLayout) -> String {
        guard c.useDensePrediction else { return "off" }
        guard let f = c.regionStartFraction, f > 0 else { return "on" }
        return String(format: "on from iteration %d (%.1f%% of the run; the view loss alone before)", L.regionStartIteration(c), 100 * f)
    }

    func scheduleLine(_ c: PretrainConfig, _ L: RunLayout) -> String {
        if c.iterationMode {
            let f = c.fractionLengths(total: L.totalIterations)
            return String(format: "  schedule: %d iterations (%.2f epochs of %d); peak lr %.3g (\(option(\.config.lr)) %.3g × %d / 256), min lr %.3g, warmup %d iterations (%.1f%%); "
                          + "wd %.3g → %.3g; momentum %.4g → 1; teacher temp %.3g → %.3g over %d iterations (%.1f%%); last layer frozen %d iteration(s) (%.1f%%)",
                          L.totalIterations, Double(L.totalIterations) / Double(L.iterationsPerEpoch), L.iterationsPerEpoch, L.peakLR, c.lr, L.globalBatch,
                          c.minLR, f.warmup, 100 * c.warmupFraction, c.weightDecay, c.weightDecayEnd, c.momentumTeacher, c.warmupTeacherTemp,
                          c.teacherTemp, f.temperature, 100 * c.warmupTeacherTempFraction, f.freeze, 100 * c.freezeLastLayerFraction)
        }
        return String(format: "  schedule: %d epochs × %d iterations = %d; peak lr %.3g (\(option(\.config.lr)) %.3g × %d / 256), min lr %.3g, warmup %d epochs; "
                      + "wd %.3g → %.3g; momentum %.4g → 1; teacher temp %.3g → %.3g over %d epochs; last layer frozen %d epoch(s)",
                      c.epochs, L.iterationsPerEpoch, L.totalIterations, L.peakLR, c.lr, L.globalBatch, c.minLR, c.warmupEpochs,
                      c.weightDecay, c.weightDecayEnd, c.momentumTeacher, c.warmupTeacherTemp, c.teacherTemp, c.warmupTeacherTempEpochs, c.freezeLastLayer)
    }

    func budget(_ p: BudgetPlan, minutes: Double, iterationsPerEpoch ipe: Int) {
        say(String(format: "  time budget %@: one iteration takes %.2f s (the mean of %d timed ones, +10 %%); %d iterations (%.2f epochs) fit, with "
                   + "%d evaluation(s) and %d checkpoint write(s), and %.0f s kept free; start-up took %.0f s. Expected end: %@ (in %@). "
                   + "To repeat this run exactly: \(option(\.config.iterations)) %d instead of \(option(\.config.timeBudgetMinutes)).",
                   RunReporter.duration(minutes * 60), p.stepSeconds, p.probeIterations, p.iterations, Double(p.iterations) / Double(ipe),
                   p.evaluations, p.checkpoints, p.marginSeconds, p.elapsedSeconds, RunReporter.clock(after: p.predictedSeconds - p.elapsedSeconds),
                   RunReporter.duration(p.predictedSeconds - p.elapsedSeconds), p.iterations))
        if isRoot, let j = try? JSONEncoder().encode(p), let o = try? JSONSerialization.jsonObject(with: j) as? [String: Any] { log(["budget_plan": o]) }
    }

    func evaluation(_ r: PeriodicKNN.Result, knn: PeriodicKNN, iteration: Int, epoch: Int) {
        var line = String(format: "k-NN of the teacher at iteration %d: %.2f%% top-1 (k = %d, %d train / %d test images", iteration, r.top1, knn.k,
                          knn.trainCount, knn.testCount)
        var record: [String: Any] = ["iteration": iteration, "epoch": epoch, "knn_top1": r.top1, "knn_k": knn.k,
                                     "knn_train_images": knn.trainCount, "knn_test_images": knn.testCount, "eval_s": r.seconds]
        if let c = r.correspondence, let n = knn.correspondence?.count {
            line += String(format: "); correspondence %.2f%%, %.2f px (%d test images", 100 * c.accuracy, c.distance, n)
            record["corr_acc"] = 100 * c.accuracy; record["corr_dist_px"] = c.distance; record["corr_images"] = n
        }
        say(line + String(format: ", %.0f s)", r.seconds))
        log(record)
    }

    func progress(_ state: LoopState, plan: RunPlan, iteration it: Int, hyper: StepHyper, teacher: TeacherSummary?) {
        guard isRoot else { return }
        let meter = state.meter, times = state.stepTimes, epoch = plan.epoch(of: it - 1)
        let avg = times.isEmpty ? meter.seconds / Double(max(meter.steps, 1)) : times.reduce(0, +) / Double(times.count)
        let eta = Double(plan.stopIteration - it) * avg, span = max(meter.seconds, 1e-9)
        let ips = Double(meter.images) / span
        let dataPct = 100 * meter.dataWait / span, reducePct = 100 * meter.reduce / span, syncPct = 100 * meter.syncWait / span
        let l = meter.meanLoss
        say(String(format: "epoch %d  it %d/%d  loss %.4f (L_V %.4f, L_R %.4f)  lr %.3e  wd %.4f  mom %.5f  temp %.4f  |  %.1f img/s  data-wait %.0f%%  all-reduce %.0f%% (%.0f%% waiting for ranks)  ETA %@",
                   epoch, it, plan.stopIteration, l.total, l.view, l.region, hyper.lr, hyper.weightDecay, hyper.teacherMomentum, hyper.teacherTemperature,
                   ips, dataPct, reducePct, syncPct, RunReporter.duration(eta)) + (teacher.map { "\n    " + $0.line } ?? ""))
        var fields: [String: Any] = [
            "epoch": epoch, "iteration": it, "loss": l.total, "loss_view": l.view, "loss_region": l.region, "lr": Double(hyper.lr),
            "wd": Double(hyper.weightDecay), "momentum": Double(hyper.teacherMomentum), "teacher_temp": Double(hyper.teacherTemperature),
            "img_per_s": ips, "data_wait_pct": dataPct, "allreduce_pct": reducePct, "rank_wait_pct": syncPct,
            "compute_pct": 100 * meter.compute / span, "step_s": meter.seconds / Double(max(meter.steps, 1)), "eta_s": eta]
        if let teacher { fields.merge(teacher.fields) { a, _ in a } }
        log(fields)
    }

    func epochDone(_ epoch: Int, _ m: EpochMeter, iteration: Int) {
        log(["epoch": epoch, "train_loss": m.mean(\.loss), "train_lr": m.mean(\.lr), "train_wd": m.mean(\.wd), "replaced_images": m.replaced],
            iteration: iteration)
        say(String(format: "epoch %d done: mean loss %.4f, %d image(s) replaced (unreadable)", epoch, m.mean(\.loss), m.replaced))
    }

    func warning(_ w: String, iteration: Int) {
        say(w)
        log(["iteration": iteration, "warning": w])
    }

    /// The closing lines: time used against a budget, and why the run ended.
    func finish(_ plan: RunPlan, _ state: LoopState, stop: StopReason?, iteration it: Int, seconds: Double, used: Double) {
        let c = plan.config, L = plan.layout, ran = it - plan.firstIteration
        if let b = plan.budget {
            say(String(format: "time budget: planned %@ for the whole command, used %@ (%.1f%%); training took %@ for %d iterations (%.2f s each, planned %.2f s)",
                       RunReporter.duration(b.budgetSeconds), RunReporter.duration(used), 100 * used / b.budgetSeconds, RunReporter.duration(seconds),
                       ran, seconds / Double(max(ran, 1)), b.stepSeconds))
            log(["budget_s": b.budgetSeconds, "used_s": used, "training_s": seconds, "iterations": ran])
        }
        switch stop {
        case .signal(let s)?:
            say("stopped by \(StopRequest.name(s)) at iteration \(it): checkpoint \(state.lastCheckpoint ?? "—") holds it; "
                + "run the same command again to continue (exit code \(StopRequest.exitCode))")
            log(["iteration": it, "stopped": StopRequest.name(s)])
        case .outOfTime?:
            let recent = state.stepTimes.suffix(100)
            let recentMean = recent.reduce(0, +) / Double(max(recent.count, 1))
            // A run resumed from a checkpoint written before plans were stored has no planned step time to compare with.
            let against = c.budgetPlan.map { String(format: " against the %.2f s planned", $0.stepSeconds) } ?? ""
            say(String(format: "time budget reached: stopped at iteration %d of the %d planned, %d short (recent iterations took %.2f s%@: "
                       + "the machine ran slower than the probe measured). The checkpoint holds the state; run the same command again "
                       + "to finish the plan (the schedules then end where they should).",
                       it, L.stopIteration, L.stopIteration - it, recentMean, against))
            log(["iteration": it, "stopped": "time budget", "planned_iterations": L.stopIteration])
        case nil where it < L.totalIterations:
            let maxIters = option(\.config.maxIters)
            say(String(format: "stopped at iteration %d of %d (\(maxIters)) after %@; run the same command with a larger \(maxIters) to continue",
                       it, L.totalIterations, RunReporter.duration(seconds)))
        case nil:
            say("finished all \(L.totalIterations) iterations (" + (c.iterationMode ? String(format: "%.2f", Double(L.totalIterations) / Double(L.iterationsPerEpoch)) : "\(c.epochs)")
                + " epochs) in \(RunReporter.duration(seconds))")
        }
    }

    /// Local wall-clock time `seconds` from now, "HH:MM".
    static func clock(after seconds: Double) -> String {
        let f = DateFormatter(); f.dateFormat = "HH:mm"
        return f.string(from: Date().addingTimeInterval(seconds))
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) : (t >= 60 ? String(format: "%dm%02ds", t / 60, t % 60) : "\(t)s")
    }
}
