// Data-parallel EsViT pretraining (docs/algorithm.md §5.3, §6): the same code runs as one plain process, as
// N ranks on one node and across nodes. Per optimizer iteration, on every rank:
//   1. for each of the --grad-accum-steps micro-batches (this rank's shard of the global batch):
//      teacher + student forward, losses, backward; gradients and center sums accumulate;
//   2. one small all-reduce (center sums and counts, losses, a non-finite flag, bad-file counts);
//      a non-finite loss anywhere stops every rank here, before any update;
//   3. the gradients are all-reduced in buckets and averaged over ranks × micro-batches;
//   4. centers, per-tensor clipping, last-layer freezing, AdamW and the teacher EMA run
//      identically everywhere, so parameters stay equal (checked by a checksum every
//      --check-every iterations and before every checkpoint).
// Rank 0 broadcasts its initial (or resumed) state, prints progress, appends to log.txt and
// writes checkpoints atomically. Resume continues from (epoch, samples consumed in the epoch),
// so a run may continue with a different number of ranks.
import ESData
import ESDistributed
import ESEval
import ESKernels
import ESLoss
import ESModel
import ESObjective
import ESOptim
import Foundation

public struct RunSummary: Sendable {
    public let firstIteration: Int, lastIteration: Int
    public let losses: [Double]
    public let checkpoint: String?
    public let seconds: Double
    /// The signal (SIGTERM, SIGINT, SIGUSR1, SIGUSR2) that stopped the run early, if one did.
    public var stopSignal: Int32? = nil
}

public final class Trainer {
    /// The run's configuration; a --time-budget run stores its planned iteration count here.
    public private(set) var config: PretrainConfig
    public let comm: Communicator
    public let source: ImageSource
    public private(set) var layout: RunLayout
    /// When the command started (the origin of --time-budget).
    public let startedAt: Double
    public let files: RunFiles
    /// An explicit checkpoint to resume from; nil: the output folder's checkpoint if one exists.
    public let resumeFrom: String?
    /// Require a checkpoint (--resume): a missing one is an error instead of a fresh start.
    public let requireResume: Bool
    /// Labelled (train, test) sources for the periodic k-NN (nil: off).
    public let evaluation: (train: ImageSource, test: ImageSource)?
    /// Where the run reads time (budget, deadline, progress); tests inject a simulated clock.
    public let clock: RunClock
    let say: (String) -> Void
    let fault: Fault?
    var hosts = ""

    public init(config: PretrainConfig, comm: Communicator, source: ImageSource, resumeFrom: String? = nil, requireResume: Bool = false,
                evaluation: (train: ImageSource, test: ImageSource)? = nil, startedAt: Double? = nil,
                clock: RunClock = WallClock(), say: @escaping (String) -> Void = { print($0) }) throws {
        self.clock = clock
        self.startedAt = startedAt ?? clock.now()
        self.config = config; self.comm = comm; self.source = source; self.evaluation = config.evaluates ? evaluation : nil
        self.resumeFrom = resumeFrom; self.requireResume = requireResume
        layout = try RunLayout(config: config, worldSize: comm.size, datasetCount: source.count)
        if config.iterations != nil { self.config.epochs = layout.epochs }   // the epochs the run touches, for the record
        files = RunFiles(dir: config.outputDir)
        self.say = comm.isRoot ? say : { _ in }
        fault = Fault.fromEnvironment(rank: comm.rank)
    }

    /// The wall clock's reading, for a command's start time (see RunClock).
    public static func now() -> Double { WallClock().now() }

    /// Runs to --max-iters or the end of the schedule. Every rank returns the same summary or
    /// throws the same error.
    @discardableResult
    public func run() throws -> RunSummary {
        var c = config, L = layout
        let W = comm.size, A = c.gradAccumSteps, B = c.batchSizePerRank
        Compute.setThreads(c.threads)
        // Output folder (rank 0): locked for this run, with the outcome shared so every rank fails together.
        var setupError: String? = nil
        var lock: RunLock? = nil
        defer { lock?.release() }
        if comm.isRoot {
            do {
                let prepared = try files.prepare()
                lock = prepared.lock
                if let note = prepared.lock.takeover { say(note) }
                if !prepared.stale.isEmpty { say("removed stale temp files from an interrupted write: \(prepared.stale.joined(separator: ", "))") }
            } catch { setupError = "\(error)" }
        }
        try agree(setupError)
        StopRequest.install()   // `esvit pretrain` installed them at its start already
        defer { StopRequest.uninstall(); StopRequest.reset() }

        let model = EsViT(config: c.objective, seed: c.seed)
        let start = try loadOrBroadcastState(model)
        if c.timeBudgetMinutes != nil, let planned = start.plannedIterations {
            // A resumed budgeted run finishes the plan it made at its start.
            config.budgetPlan = start.budgetPlan
            try adoptIterations(planned); c = config; L = layout
            say("continuing the time-budgeted run's plan of \(planned) iterations (planned when it started)")
        }

        // Where this run starts: epoch and samples already consumed in it.
        let perLoaderIt = B * W
        var loaderStart = start.samplesIntoEpoch / perLoaderIt
        loaderStart -= loaderStart % A
        var it = start.epoch * L.iterationsPerEpoch + loaderStart / A
        if start.resumed {
            if loaderStart * perLoaderIt != start.samplesIntoEpoch {
                say("note: the checkpoint stopped \(start.samplesIntoEpoch) samples into epoch \(start.epoch); with this layout the run continues at \(loaderStart * perLoaderIt) (a batch boundary)")
            }
            if start.worldSize != W { say("resuming with \(W) rank(s); the checkpoint was written by \(start.worldSize): the sample order continues from the stored position") }
            if loaderStart / A >= L.iterationsPerEpoch { it = (start.epoch + 1) * L.iterationsPerEpoch }
        }
        let firstIteration = it
        hosts = hostSummary()
        let budgeted = c.timeBudgetMinutes != nil && c.iterations == nil
        if !budgeted { printPlan(model: model, start: it) }
        if !budgeted && it >= L.stopIteration {
            say("nothing to do: the run is at iteration \(it) and stops at \(L.stopIteration) (raise --epochs or --max-iters to continue)")
            return RunSummary(firstIteration: it, lastIteration: it, losses: [], checkpoint: nil, seconds: 0)
        }
        let knn = evaluation.map {
            PeriodicKNN(config: c.backbone, inputSize: c.crops.globalSize, train: $0.train, test: $0.test, trainLimit: c.evalTrainLimit,
                        testLimit: c.evalTestLimit, mean: c.crops.mean, std: c.crops.std, source: model.table, params: model.teacher.pointer)
        }
        var deadline: BudgetDeadline? = nil
        func evaluate(_ iteration: Int) {
            guard let knn else { return }
            let e0 = clock.now()
            let r = knn.run(source: model.table, params: model.teacher.pointer, comm: comm)
            clock.finished(.evaluation)
            deadline?.sawEvaluation(seconds: clock.now() - e0)
            say(String(format: "k-NN of the teacher at iteration %d: %.2f%% top-1 (k = %d, %d train / %d test images, %.0f s)",
                       iteration, r.top1, knn.k, knn.trainCount, knn.testCount, r.seconds))
            if comm.isRoot {
                files.appendLog(RunFiles.jsonLine(["iteration": iteration, "epoch": iteration / L.iterationsPerEpoch, "knn_top1": r.top1, "knn_k": knn.k,
                                                   "knn_train_images": knn.trainCount, "knn_test_images": knn.testCount, "eval_s": r.seconds]))
            }
        }
        let evalStart = clock.now()
        if it == 0 { evaluate(0) }
        var plan: BudgetPlan? = nil
        if budgeted, let minutes = c.timeBudgetMinutes {
            let p = try planTimeBudget(model, minutes: minutes, evalSeconds: clock.now() - evalStart)
            config.budgetPlan = p
            try adoptIterations(it + p.iterations); c = config; L = layout; plan = p
            printPlan(model: model, start: it)
            say(String(format: "  time budget %@: one iteration takes %.2f s (the mean of %d timed ones, +10 %%); %d iterations (%.2f epochs) fit, with "
                       + "%d evaluation(s) and %d checkpoint write(s), and %.0f s kept free; start-up took %.0f s. Expected end: %@ (in %@). "
                       + "To repeat this run exactly: --iterations %d instead of --time-budget.",
                       Trainer.duration(minutes * 60), p.stepSeconds, p.probeIterations, p.iterations, Double(p.iterations) / Double(L.iterationsPerEpoch),
                       p.evaluations, p.checkpoints, p.marginSeconds, p.elapsedSeconds, Trainer.clock(after: p.predictedSeconds - p.elapsedSeconds),
                       Trainer.duration(p.predictedSeconds - p.elapsedSeconds), p.iterations))
            if comm.isRoot, let j = try? JSONEncoder().encode(p), let o = try? JSONSerialization.jsonObject(with: j) as? [String: Any] {
                files.appendLog(RunFiles.jsonLine(["budget_plan": o]))
            }
        }
        if comm.isRoot { try files.writeAtomically(configJSON(), to: files.configFile) }
        if let minutes = c.timeBudgetMinutes { deadline = BudgetDeadline(end: startedAt + minutes * 60, plan: c.budgetPlan) }
        var outOfTime = false
        let schedule = L.schedule(c)
        var monitor = CollapseMonitor()

        let sampler = EpochSampler(count: source.count, worldSize: W, rank: comm.rank, batchPerRank: B, seed: c.seed)
        let loader = MultiCropLoader(source: source, sampler: sampler, config: c.crops, seed: c.seed, threads: c.loaderThreads,
                                     log: { m in FileHandle.standardError.write(Data(("rank \(self.comm.rank): " + m + "\n").utf8)) })
        defer { loader.stop() }

        let scratch = StepScratch(classes: c.head.outDim, parameters: model.table.totalCount, accumulation: A)
        var epoch = it / L.iterationsPerEpoch
        loader.start(epoch: epoch, fromIteration: (it % L.iterationsPerEpoch) * A)
        var meter = Meter(), epochMeter = EpochMeter()
        var losses: [Double] = []
        var lastCheckpoint: String? = nil
        let runStart = clock.now()
        var stepTimes: [Double] = []
        var stoppedBy: Int32 = 0

        while it < L.stopIteration {
            let e = it / L.iterationsPerEpoch
            if e != epoch { epoch = e; loader.start(epoch: e, fromIteration: 0); epochMeter = EpochMeter() }
            let hyper = StepHyper(schedule, iteration: it)
            let t0 = clock.now()
            // The teacher's collapse statistics come from the last iteration of each logging interval.
            let logs = it == firstIteration || (it + 1) % c.logEvery == 0 || it + 1 == L.stopIteration
            let step = try trainStep(model, loader: loader, hyper: hyper, scratch: scratch, iteration: it, statistics: logs,
                                     lastCheckpoint: lastCheckpoint)
            it += 1
            losses.append(step.loss.0)
            let dt = clock.now() - t0
            if it > firstIteration + 1 || L.stopIteration - firstIteration == 1 { stepTimes.append(dt) }
            meter.add(loss: step.loss, seconds: dt, dataWait: step.dataWait, reduce: step.reduce, syncWait: step.syncWait,
                      compute: step.compute, images: L.globalBatch)
            epochMeter.add(loss: step.loss.0, lr: hyper.lr, wd: hyper.weightDecay, replaced: step.replaced)
            let epochEnds = it % L.iterationsPerEpoch == 0
            let checkpointDue = c.checkpointDue(after: it, iterationsPerEpoch: L.iterationsPerEpoch)
            let evalDue = c.evaluationDue(after: it, iterationsPerEpoch: L.iterationsPerEpoch)
            let signal = StopRequest.agreed(comm)
            if it < L.stopIteration, signal == 0, let d = deadline {
                // Rank 0's clock decides for every rank.
                outOfTime = rootDecides(!d.oneMoreFits(now: clock.now(), recentSteps: stepTimes.suffix(20), checkpointNow: checkpointDue,
                                                       evalNow: evalDue, finalEval: c.evaluatesAtEnd))
            }
            let stopping = it == L.stopIteration || outOfTime || signal != 0
            let saveLatest = stopping || checkpointDue
            if it % c.checkEvery == 0 || saveLatest { try checkConsistency(model, iteration: it) }
            if logs {
                progress(meter: meter, iteration: it, epoch: epoch, hyper: hyper, stepTimes: stepTimes, teacher: step.teacher)
                meter = Meter()
                if let t = step.teacher, let warning = monitor.observe(t, iteration: it) {
                    say(warning)
                    if comm.isRoot { files.appendLog(RunFiles.jsonLine(["iteration": it, "warning": warning])) }
                }
            }
            if epochEnds {
                let done = it / L.iterationsPerEpoch
                if comm.isRoot {
                    files.appendLog(RunFiles.jsonLine(["epoch": done - 1, "train_loss": epochMeter.mean(\.loss), "train_lr": epochMeter.mean(\.lr),
                                                       "train_wd": epochMeter.mean(\.wd), "replaced_images": epochMeter.replaced]))
                    say(String(format: "epoch %d done: mean loss %.4f, %d image(s) replaced (unreadable)", done - 1, epochMeter.mean(\.loss), epochMeter.replaced))
                }
            }
            if saveLatest {
                let w0 = clock.now()
                defer { deadline?.sawCheckpoint(seconds: clock.now() - w0) }
                let info = CheckpointInfo(epoch: it / L.iterationsPerEpoch, iteration: it,
                                          globalSamplePosition: start.globalSamplePosition + (it - firstIteration) * L.globalBatch,
                                          seed: c.seed, worldSize: W, samplesIntoEpoch: (it % L.iterationsPerEpoch) * L.globalBatch)
                var written: [String] = []
                var writeError: String? = nil
                if comm.isRoot {
                    do {
                        var paths = [files.latestCheckpoint]
                        if epochEnds && c.saveckpFreq > 0 && (it / L.iterationsPerEpoch) % c.saveckpFreq == 0 {
                            paths.append(files.epochCheckpoint(it / L.iterationsPerEpoch))
                        }
                        try model.saveCheckpoint(to: paths, info: info, extraMetadata: extraMetadata())
                        clock.finished(.checkpoint)
                        written = paths
                    } catch { writeError = "writing the checkpoint at iteration \(it) failed: \(error)" }
                }
                try agree(writeError)
                lastCheckpoint = files.latestCheckpoint
                if !written.isEmpty { say("checkpoint: " + written.joined(separator: ", ") + " (iteration \(it))") }
            }
            if signal != 0 { stoppedBy = signal; break }
            if evalDue || (stopping && c.evaluatesAtEnd) { evaluate(it) }
            if outOfTime { break }
        }
        let seconds = clock.now() - runStart
        if let plan {
            let used = clock.now() - startedAt
            say(String(format: "time budget: planned %@ for the whole command, used %@ (%.1f%%); training took %@ for %d iterations (%.2f s each, planned %.2f s)",
                       Trainer.duration(plan.budgetSeconds), Trainer.duration(used), 100 * used / plan.budgetSeconds, Trainer.duration(seconds),
                       it - firstIteration, seconds / Double(max(it - firstIteration, 1)), plan.stepSeconds))
            if comm.isRoot {
                files.appendLog(RunFiles.jsonLine(["budget_s": plan.budgetSeconds, "used_s": used, "training_s": seconds, "iterations": it - firstIteration]))
            }
        }
        if stoppedBy != 0 {
            say("stopped by \(StopRequest.name(stoppedBy)) at iteration \(it): checkpoint \(lastCheckpoint ?? "—") holds it; "
                + "run the same command again to continue (exit code \(StopRequest.exitCode))")
            if comm.isRoot { files.appendLog(RunFiles.jsonLine(["iteration": it, "stopped": StopRequest.name(stoppedBy)])) }
        } else if outOfTime {
            let recent = stepTimes.suffix(100)
            let recentMean = recent.reduce(0, +) / Double(max(recent.count, 1))
            // A run resumed from a checkpoint written before plans were stored has no planned step time to compare with.
            let against = c.budgetPlan.map { String(format: " against the %.2f s planned", $0.stepSeconds) } ?? ""
            say(String(format: "time budget reached: stopped at iteration %d of the %d planned, %d short (recent iterations took %.2f s%@: "
                       + "the machine ran slower than the probe measured). The checkpoint holds the state; run the same command again "
                       + "to finish the plan (the schedules then end where they should).",
                       it, L.stopIteration, L.stopIteration - it, recentMean, against))
            if comm.isRoot { files.appendLog(RunFiles.jsonLine(["iteration": it, "stopped": "time budget", "planned_iterations": L.stopIteration])) }
        } else if it < L.totalIterations {
            say(String(format: "stopped at iteration %d of %d (--max-iters) after %@; run the same command with a larger --max-iters to continue",
                       it, L.totalIterations, Trainer.duration(seconds)))
        } else {
            say("finished all \(L.totalIterations) iterations (" + (c.iterationMode ? String(format: "%.2f", Double(L.totalIterations) / Double(L.iterationsPerEpoch)) : "\(c.epochs)")
                + " epochs) in \(Trainer.duration(seconds))")
        }
        var summary = RunSummary(firstIteration: firstIteration, lastIteration: it, losses: losses, checkpoint: lastCheckpoint, seconds: seconds)
        summary.stopSignal = stoppedBy == 0 ? nil : stoppedBy
        return summary
    }

    // MARK: - State at start

    struct Start {
        var resumed: Bool, epoch: Int, samplesIntoEpoch: Int, worldSize: Int, globalSamplePosition: Int
        /// The iteration count a --time-budget run planned, from the checkpoint's configuration.
        var plannedIterations: Int? = nil
        /// That run's plan (its cost figures seed the deadline check).
        var budgetPlan: BudgetPlan? = nil
    }

    /// Fixes the schedule length (a --time-budget plan) and recomputes the layout.
    func adoptIterations(_ n: Int) throws {
        config.iterations = n
        layout = try RunLayout(config: config, worldSize: comm.size, datasetCount: source.count)
        config.epochs = layout.epochs
    }

    /// Rank 0 loads the checkpoint to resume from (if any), then broadcasts its whole state —
    /// student, teacher, AdamW moments and step counts, centers — so every rank starts equal.
    func loadOrBroadcastState(_ model: EsViT) throws -> Start {
        var header: [String: String] = [:]
        if comm.isRoot {
            let path = resumeFrom ?? files.latestCheckpoint
            if FileManager.default.fileExists(atPath: path) {
                do {
                    let info = try model.loadCheckpoint(from: path)
                    header["info"] = String(decoding: try JSONEncoder().encode(info), as: UTF8.self)
                    say("resuming from \(path): iteration \(info.iteration), epoch \(info.epoch), \(info.samplesIntoEpoch) samples into the epoch")
                    if let old = Trainer.storedConfig(path) {
                        for d in recipeDifferences(from: old) { say("note: \(d)") }
                        if old.timeBudgetMinutes != nil, let n = old.iterations {
                            header["planned"] = String(n)
                            if let p = old.budgetPlan, let j = try? JSONEncoder().encode(p) { header["plan"] = String(decoding: j, as: UTF8.self) }
                        }
                    }
                } catch { header["error"] = "\(error)" }
            } else if resumeFrom != nil || requireResume {
                header["error"] = "no checkpoint to resume from at \(path)" + (resumeFrom == nil ? " (--resume needs a checkpoint.safetensors in --output-dir)" : "")
            }
            header["steps"] = String(decoding: try JSONEncoder().encode(model.optimizer.steps), as: UTF8.self)
        }
        header = broadcastJSON(header)
        if let e = header["error"] { throw TrainError.checkpoint(e) }
        for buf in Trainer.stateBuffers(model) { comm.broadcast(buf.pointer, count: buf.count, root: 0) }
        if let s = header["steps"], let steps = try? JSONDecoder().decode([Int].self, from: Data(s.utf8)) { model.optimizer.steps = steps }
        guard let i = header["info"], let info = try? JSONDecoder().decode(CheckpointInfo.self, from: Data(i.utf8)) else {
            return Start(resumed: false, epoch: 0, samplesIntoEpoch: 0, worldSize: comm.size, globalSamplePosition: 0)
        }
        return Start(resumed: true, epoch: info.epoch, samplesIntoEpoch: info.samplesIntoEpoch, worldSize: info.worldSize,
                     globalSamplePosition: info.globalSamplePosition, plannedIterations: header["planned"].flatMap { Int($0) },
                     budgetPlan: header["plan"].flatMap { try? JSONDecoder().decode(BudgetPlan.self, from: Data($0.utf8)) })
    }

    /// The float state every rank holds identically besides the AdamW step counts: student,
    /// teacher, AdamW moments, both centers (broadcast at start; saved and restored around the
    /// time-budget probe).
    static func stateBuffers(_ model: EsViT) -> [FloatBuffer] {
        [model.student, model.teacher, model.optimizer.m, model.optimizer.v, model.centers.view, model.centers.region]
    }

    /// Recipe options that differ from the checkpoint's run `old` (they take effect from here on).
    func recipeDifferences(from old: PretrainConfig) -> [String] {
        let a = ConfigFields.flatten(old), b = ConfigFields.flatten(config)
        var ignored: Set<String> = ["outputDir", "maxIters", "threads", "loaderThreads", "logEvery", "checkEvery", "dataPath"]
        if config.timeBudgetMinutes != nil { ignored.insert("iterations") }   // the plan, adopted from the checkpoint
        if config.iterationMode { ignored.insert("epochs") }                   // derived from the iterations
        return Set(a.keys).union(b.keys).sorted().filter { !ignored.contains($0) && !$0.hasPrefix("budgetPlan") && a[$0] != b[$0] }.map {
            "\($0) was \(a[$0] ?? "—") in the checkpoint's run, now \(b[$0] ?? "—")"
        }
    }

    /// The configuration of the run that wrote a checkpoint (nil for other files).
    static func storedConfig(_ path: String) -> PretrainConfig? {
        guard let f = try? SafeTensorsFile(path: path), let t = f.metadata["pretrain_config"] else { return nil }
        return try? JSONDecoder().decode(PretrainConfig.self, from: Data(t.utf8))
    }

    // MARK: - Collective helpers

    /// Rank 0's answer on every rank.
    func rootDecides(_ yes: Bool) -> Bool {
        guard comm.size > 1 else { return yes }
        var v: [Float] = [yes ? 1 : 0]
        v.withUnsafeMutableBufferPointer { comm.broadcast($0.baseAddress!, count: 1, root: 0) }
        return v[0] != 0
    }

    /// Every rank learns rank 0's error (if any) and throws it.
    func agree(_ rootError: String?) throws {
        let h = broadcastJSON(rootError.map { ["error": $0] } ?? [:])
        if let e = h["error"] { throw TrainError.config(e) }
    }

    /// The `root` rank's dictionary on every rank.
    func broadcastJSON(_ value: [String: String], root: Int = 0) -> [String: String] {
        guard comm.size > 1 else { return value }
        let mine = comm.rank == root
        var bytes = mine ? [UInt8]((try? JSONEncoder().encode(value)) ?? Data()) : []
        var n = [Float(bytes.count)]
        n.withUnsafeMutableBufferPointer { comm.broadcast($0.baseAddress!, count: 1, root: root) }
        if !mine { bytes = [UInt8](repeating: 0, count: Int(n[0])) }
        bytes.withUnsafeMutableBufferPointer { comm.broadcast($0.baseAddress!, count: $0.count, root: root) }
        return (try? JSONDecoder().decode([String: String].self, from: Data(bytes))) ?? [:]
    }

    /// Host names in rank order, collapsed: "node0, node1" or "node0 (2 ranks)".
    func hostSummary() -> String {
        var names: [String] = []
        for r in 0..<comm.size { names.append(broadcastJSON(["host": comm.processorName], root: r)["host"] ?? "?") }
        var groups: [(String, Int)] = []
        for n in names { if let last = groups.last, last.0 == n { groups[groups.count - 1].1 += 1 } else { groups.append((n, 1)) } }
        return groups.map { $0.1 > 1 ? "\($0.0) (\($0.1) ranks)" : $0.0 }.joined(separator: ", ")
    }

    /// Compares a checksum of student and teacher across ranks; a mismatch stops every rank.
    func checkConsistency(_ model: EsViT, iteration: Int) throws {
        guard comm.size > 1 else { return }
        let mine = Trainer.checksum(model.student, model.teacher)
        // 64-bit hash as four exact 16-bit pieces.
        let h = (0..<4).map { Double((mine >> (16 * UInt64($0))) & 0xFFFF) }
        var root = h.map(Float.init)
        root.withUnsafeMutableBufferPointer { comm.broadcast($0.baseAddress!, count: 4, root: 0) }
        var differ = [zip(root, h).allSatisfy { Double($0) == $1 } ? 0.0 : 1.0]
        differ.withUnsafeMutableBufferPointer { comm.allReduceSum($0.baseAddress!, count: 1) }
        if differ[0] > 0 {
            FileHandle.standardError.write(Data("rank \(comm.rank): parameter checksum \(String(mine, radix: 16)) at iteration \(iteration)\n".utf8))
            throw TrainError.mismatch("parameters differ across ranks at iteration \(iteration): \(Int(differ[0])) of \(comm.size) rank(s) disagree with rank 0. "
                                      + "The replicas must stay identical; this points at a non-deterministic kernel or a damaged rank. No checkpoint was written for this iteration.")
        }
    }

    /// Order-sensitive 64-bit hash of the raw bits of the given buffers.
    static func checksum(_ buffers: FloatBuffer...) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in buffers {
            b.pointer.withMemoryRebound(to: UInt32.self, capacity: b.count) { p in
                var lanes = SIMD8<UInt64>(repeating: 0)
                var i = 0
                while i + 8 <= b.count {
                    var v = SIMD8<UInt64>(repeating: 0)
                    for k in 0..<8 { v[k] = UInt64(p[i + k]) }
                    lanes = (lanes &* 0x100_0000_01b3) ^ v
                    i += 8
                }
                while i < b.count { h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3; i += 1 }
                for k in 0..<8 { h = (h ^ lanes[k]) &* 0x100_0000_01b3 }
            }
        }
        return h
    }

    // MARK: - Reporting

    func printPlan(model: EsViT, start: Int) {
        let c = config, L = layout
        say("esvit pretrain: \(c.arch) (patch \(c.backbone.patchSize), C \(c.backbone.embedDim), depths \(c.backbone.depths.map(String.init).joined(separator: "-")), window \(c.backbone.windowSize)), "
            + "head \(c.head.hidden)/\(c.head.bottleneck)/K \(c.head.outDim), region loss \(c.useDensePrediction ? "on" : "off")")
        say("  data: \(c.dataset) at \(c.dataPath), \(L.datasetCount) images; crops 2×\(c.crops.globalSize) + \(c.crops.localCrops)×\(c.crops.localSize) px")
        say("  ranks \(L.worldSize) × batch \(c.batchSizePerRank) × accumulation \(c.gradAccumSteps) = global batch \(L.globalBatch); "
            + "\(c.threads) compute thread(s) and \(c.loaderThreads) loader thread(s) per rank; hosts: \(hosts)")
        if c.iterationMode {
            let f = c.fractionLengths(total: L.totalIterations)
            say(String(format: "  schedule: %d iterations (%.2f epochs of %d); peak lr %.3g (--lr %.3g × %d / 256), min lr %.3g, warmup %d iterations (%.1f%%); "
                       + "wd %.3g → %.3g; momentum %.4g → 1; teacher temp %.3g → %.3g over %d iterations (%.1f%%); last layer frozen %d iteration(s) (%.1f%%)",
                       L.totalIterations, Double(L.totalIterations) / Double(L.iterationsPerEpoch), L.iterationsPerEpoch, L.peakLR, c.lr, L.globalBatch,
                       c.minLR, f.warmup, 100 * c.warmupFraction, c.weightDecay, c.weightDecayEnd, c.momentumTeacher, c.warmupTeacherTemp,
                       c.teacherTemp, f.temperature, 100 * c.warmupTeacherTempFraction, f.freeze, 100 * c.freezeLastLayerFraction))
        } else {
            say(String(format: "  schedule: %d epochs × %d iterations = %d; peak lr %.3g (--lr %.3g × %d / 256), min lr %.3g, warmup %d epochs; "
                       + "wd %.3g → %.3g; momentum %.4g → 1; teacher temp %.3g → %.3g over %d epochs; last layer frozen %d epoch(s)",
                       c.epochs, L.iterationsPerEpoch, L.totalIterations, L.peakLR, c.lr, L.globalBatch, c.minLR, c.warmupEpochs,
                       c.weightDecay, c.weightDecayEnd, c.momentumTeacher, c.warmupTeacherTemp, c.teacherTemp, c.warmupTeacherTempEpochs, c.freezeLastLayer))
        }
        say("  memory per rank: parameters, gradients, teacher and AdamW \(formatMiB(model.parameterBytes)); activations, heads and loss \(formatMiB(model.workspaceBytes))")
        say("  output: \(c.outputDir) (checkpoint.safetensors every \(c.saveckpIters > 0 ? "\(c.saveckpIters) iterations and " : "")epoch end; numbered copies every \(c.saveckpFreq) epochs; log.txt; config.json)")
        say("  this run: iterations \(start) → \(L.stopIteration)" + (L.stopIteration < L.totalIterations ? " (--max-iters)" : ""))
    }

    func progress(meter: Meter, iteration it: Int, epoch: Int, hyper: StepHyper, stepTimes: [Double], teacher: TeacherSummary?) {
        guard comm.isRoot else { return }
        let L = layout
        let avg = stepTimes.isEmpty ? meter.seconds / Double(max(meter.steps, 1)) : stepTimes.reduce(0, +) / Double(stepTimes.count)
        let eta = Double(L.stopIteration - it) * avg
        let ips = Double(meter.images) / max(meter.seconds, 1e-9)
        let dataPct = 100 * meter.dataWait / max(meter.seconds, 1e-9), reducePct = 100 * meter.reduce / max(meter.seconds, 1e-9)
        let syncPct = 100 * meter.syncWait / max(meter.seconds, 1e-9)
        let l = meter.meanLoss
        say(String(format: "epoch %d  it %d/%d  loss %.4f (L_V %.4f, L_R %.4f)  lr %.3e  wd %.4f  mom %.5f  temp %.4f  |  %.1f img/s  data-wait %.0f%%  all-reduce %.0f%% (%.0f%% waiting for ranks)  ETA %@",
                   epoch, it, L.stopIteration, l.0, l.1, l.2, hyper.lr, hyper.weightDecay, hyper.teacherMomentum, hyper.teacherTemperature,
                   ips, dataPct, reducePct, syncPct, Trainer.duration(eta)) + (teacher.map { "\n    " + $0.line } ?? ""))
        var fields: [String: Any] = [
            "epoch": epoch, "iteration": it, "loss": l.0, "loss_view": l.1, "loss_region": l.2, "lr": Double(hyper.lr), "wd": Double(hyper.weightDecay),
            "momentum": Double(hyper.teacherMomentum), "teacher_temp": Double(hyper.teacherTemperature), "img_per_s": ips,
            "data_wait_pct": dataPct, "allreduce_pct": reducePct, "rank_wait_pct": syncPct,
            "compute_pct": 100 * meter.compute / max(meter.seconds, 1e-9), "step_s": meter.seconds / Double(max(meter.steps, 1)), "eta_s": eta]
        if let teacher { fields.merge(teacher.fields) { a, _ in a } }
        files.appendLog(RunFiles.jsonLine(fields))
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

    func extraMetadata() -> [String: String] {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        var m: [String: String] = [:]
        m["pretrain_config"] = (try? enc.encode(config)).map { String(decoding: $0, as: UTF8.self) }
        m["layout"] = (try? enc.encode(layout)).map { String(decoding: $0, as: UTF8.self) }
        return m
    }

    func configJSON() throws -> String {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        struct Resolved: Encodable { let config: PretrainConfig; let layout: RunLayout; let hosts: String }
        return String(decoding: try enc.encode(Resolved(config: config, layout: layout, hosts: hosts)), as: UTF8.self) + "\n"
    }
}

/// Interval averages for the progress line.
struct Meter {
    var steps = 0, images = 0
    var seconds = 0.0, dataWait = 0.0, reduce = 0.0, syncWait = 0.0, compute = 0.0
    var loss = (0.0, 0.0, 0.0)
    mutating func add(loss l: (Double, Double, Double), seconds s: Double, dataWait d: Double, reduce r: Double, syncWait w: Double,
                      compute c: Double, images n: Int) {
        steps += 1; images += n; seconds += s; dataWait += d; reduce += r; syncWait += w; compute += c
        loss = (loss.0 + l.0, loss.1 + l.1, loss.2 + l.2)
    }
    var meanLoss: (Double, Double, Double) { let n = Double(max(steps, 1)); return (loss.0 / n, loss.1 / n, loss.2 / n) }
}

/// Per-epoch averages for log.txt (DINO's train_loss, train_lr, train_wd).
struct EpochMeter {
    struct Row { let loss: Double, lr: Double, wd: Double }
    var rows: [Row] = []
    var replaced = 0
    mutating func add(loss: Double, lr: Float, wd: Float, replaced r: Int) { rows.append(Row(loss: loss, lr: Double(lr), wd: Double(wd))); replaced += r }
    func mean(_ k: KeyPath<Row, Double>) -> Double { rows.isEmpty ? 0 : rows.map { $0[keyPath: k] }.reduce(0, +) / Double(rows.count) }
}

/// Test hooks, not for normal use. ESVIT_FAULT="nan@ITER" or "desync@ITER", optionally ":RANK":
/// a non-finite loss or a parameter perturbation on one rank at one iteration, to prove that
/// every rank stops cleanly. ESVIT_DUMP_GRADIENTS=DIR: rank 0 writes the averaged gradient of
/// every iteration to DIR/grads<ITER>.safetensors (data-parallel equivalence tests).
struct Fault {
    /// ESVIT_FAULT=nan@IT, desync@IT[:RANK]. (A machine that slows down is simulated with an
    /// injected RunClock instead.)
    var nanAt: Int? = nil, desyncAt: Int? = nil, dumpGradients: String? = nil
    static func fromEnvironment(rank: Int) -> Fault? {
        let env = ProcessInfo.processInfo.environment
        var f = Fault()
        f.dumpGradients = env["ESVIT_DUMP_GRADIENTS"]
        guard let spec = env["ESVIT_FAULT"] else { return f.dumpGradients == nil ? nil : f }
        for part in spec.split(separator: ",") {
            let kv = part.split(separator: "@")
            guard kv.count == 2 else { continue }
            let rest = kv[1].split(separator: ":")
            guard let at = Int(rest[0]) else { continue }
            if rest.count > 1, let r = Int(rest[1]), r != rank { continue }
            if kv[0] == "nan" { f.nanAt = at } else if kv[0] == "desync" { f.desyncAt = at }
        }
        return f
    }
}
