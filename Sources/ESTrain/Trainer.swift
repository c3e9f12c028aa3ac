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
// Before the first iteration the run is planned once (RunPlan: resume position, time budget);
// RunReporter prints and logs; rank 0 writes checkpoints atomically. Resume continues from
// (epoch, samples consumed in the epoch), so a run may continue with a different number of ranks.
import ESData
import ESDistributed
import ESEval
import ESKernels
import ESModel
import ESObjective
import Foundation

public struct RunSummary: Sendable {
    public let firstIteration: Int, lastIteration: Int
    public let losses: [Double]
    public let checkpoint: String?
    public let seconds: Double
    /// The signal (SIGTERM, SIGINT, SIGUSR1, SIGUSR2) that stopped the run early, if one did.
    public var stopSignal: Int32? = nil
}

/// The periodic evaluation's data: the k-NN's memory bank and queries, and the images of the
/// correspondence measure (nil: not measured).
public struct EvaluationData {
    public let train: ImageSource, test: ImageSource
    public let regions: ImageSource?
    public init(train: ImageSource, test: ImageSource, regions: ImageSource? = nil) { self.train = train; self.test = test; self.regions = regions }
}

public final class Trainer {
    /// The requested configuration (the plan fixes the run length; see RunPlan.config).
    public let config: PretrainConfig
    public let comm: Communicator
    public let source: ImageSource
    /// The layout of the requested configuration (iterations per epoch do not depend on the run length).
    public let layout: RunLayout
    /// When the command started (the origin of --time-budget).
    public let startedAt: Double
    public let files: RunFiles
    /// An explicit checkpoint to resume from; nil: the output folder's checkpoint if one exists.
    public let resumeFrom: String?
    /// Require a checkpoint (--resume): a missing one is an error instead of a fresh start.
    public let requireResume: Bool
    /// Labelled (train, test) sources for the periodic k-NN (nil: off).
    public let evaluation: EvaluationData?
    /// Where the run reads time (budget, deadline, progress); tests inject a simulated clock.
    public let clock: RunClock
    let reporter: RunReporter
    let faults: FaultInjection?

    public init(config: PretrainConfig, comm: Communicator, source: ImageSource, resumeFrom: String? = nil, requireResume: Bool = false,
                evaluation: EvaluationData? = nil, startedAt: Double? = nil, clock: RunClock = WallClock(),
                faults: FaultInjection? = nil, say: @escaping (String) -> Void = { print($0) }) throws {
        var config = config
        layout = try RunLayout(config: config, worldSize: comm.size, datasetCount: source.count)
        if config.iterations != nil { config.epochs = layout.epochs }   // the epochs the run touches, for the record
        self.config = config; self.comm = comm; self.source = source; self.evaluation = config.evaluates ? evaluation : nil
        self.clock = clock; self.startedAt = startedAt ?? clock.now()
        self.resumeFrom = resumeFrom; self.requireResume = requireResume; self.faults = faults
        files = RunFiles(dir: config.outputDir)
        reporter = RunReporter(isRoot: comm.isRoot, files: files, say: say)
    }

    /// The wall clock's reading, for a command's start time (see RunClock).
    public static func now() -> Double { WallClock().now() }

    /// Runs to --max-iters, the end of the schedule, the deadline or an agreed stop signal.
    /// Every rank returns the same summary or throws the same error.
    @discardableResult
    public func run() throws -> RunSummary {
        Compute.setThreads(config.threads)
        let lock = try lockOutputFolder()
        defer { lock?.release() }
        StopRequest.install()   // `esvit pretrain` installed them at its start already
        defer { StopRequest.uninstall(); StopRequest.reset() }
        let model = EsViT(config: config.objective, seed: config.seed, batchSplit: config.splitsBatch ? config.threads : 1)
        let knn = periodicKNN(model)
        let plan = try makePlan(model, knn: knn)
        if plan.nothingToDo {
            reporter.say("nothing to do: the run is at iteration \(plan.firstIteration) and stops at \(plan.stopIteration) (raise \(option(\.config.epochs)) or \(option(\.config.maxIters)) to continue)")
            return RunSummary(firstIteration: plan.firstIteration, lastIteration: plan.firstIteration, losses: [], checkpoint: nil, seconds: 0)
        }
        let c = plan.config
        let sampler = EpochSampler(count: source.count, worldSize: comm.size, rank: comm.rank, batchPerRank: c.batchSizePerRank, seed: c.seed)
        let loader = MultiCropLoader(source: source, sampler: sampler, config: c.crops, seed: c.seed, threads: c.loaderThreads,
                                     log: { [rank = comm.rank] m in FileHandle.standardError.write(Data(("rank \(rank): " + m + "\n").utf8)) })
        defer { loader.stop() }
        let scratch = StepScratch(classes: c.head.outDim, parameters: model.table.totalCount, accumulation: c.gradAccumSteps)
        let schedule = plan.layout.schedule(c)
        var state = LoopState(plan: plan)
        var it = plan.firstIteration, stop: StopReason? = nil
        var epoch = plan.epoch(of: it)
        loader.start(epoch: epoch, fromIteration: (it % plan.iterationsPerEpoch) * c.gradAccumSteps)
        let runStart = clock.now()
        while it < plan.stopIteration && stop == nil {
            if plan.epoch(of: it) != epoch { epoch = plan.epoch(of: it); loader.start(epoch: epoch, fromIteration: 0); state.epochMeter = EpochMeter() }
            let hyper = StepHyper(schedule, iteration: it)
            let t0 = clock.now()
            let step = try trainStep(model, loader: loader, hyper: hyper, scratch: scratch, iteration: it, statistics: plan.logs(before: it),
                                     lastCheckpoint: state.lastCheckpoint)
            it += 1
            state.record(step, seconds: clock.now() - t0, hyper: hyper, iteration: it, plan: plan)
            stop = try afterIteration(it, step: step, hyper: hyper, model: model, knn: knn, plan: plan, state: &state)
        }
        let seconds = clock.now() - runStart
        reporter.finish(plan, state, stop: stop, iteration: it, seconds: seconds, used: clock.now() - startedAt)
        var summary = RunSummary(firstIteration: plan.firstIteration, lastIteration: it, losses: state.losses, checkpoint: state.lastCheckpoint, seconds: seconds)
        if case .signal(let s)? = stop { summary.stopSignal = s }
        return summary
    }

    /// The events after finished iteration `it`, in order: the stop decisions (signals, deadline),
    /// the parameter check, the progress and epoch lines, the checkpoint and the evaluation.
    func afterIteration(_ it: Int, step: StepOutcome, hyper: StepHyper, model: EsViT, knn: PeriodicKNN?, plan: RunPlan,
                        state: inout LoopState) throws -> StopReason? {
        let checkpointDue = plan.checkpointDue(after: it), evalDue = plan.evaluationDue(after: it)
        let signal = StopRequest.agreed(comm)
        var outOfTime = false
        if it < plan.stopIteration, signal == 0, let d = state.deadline {
            // Rank 0's clock decides for every rank.
            outOfTime = comm.agree(!d.oneMoreFits(now: clock.now(), recentSteps: state.stepTimes.suffix(20), checkpointNow: checkpointDue,
                                                  evalNow: evalDue, finalEval: plan.evaluatesAtEnd))
        }
        let stopping = it == plan.stopIteration || outOfTime || signal != 0
        if plan.parameterCheckDue(after: it) || stopping || checkpointDue { try checkConsistency(model, iteration: it) }
        if plan.logs(before: it - 1) {
            reporter.progress(state, plan: plan, iteration: it, hyper: hyper, teacher: step.teacher)
            state.meter = Meter()
            if let t = step.teacher, let warning = state.monitor.observe(t, iteration: it) { reporter.warning(warning, iteration: it) }
        }
        if plan.epochEnds(after: it) { reporter.epochDone(plan.epoch(of: it) - 1, state.epochMeter, iteration: it) }
        if stopping || checkpointDue {
            let w0 = clock.now()
            state.lastCheckpoint = try saveCheckpoint(model, after: it, plan: plan)
            state.deadline?.sawCheckpoint(seconds: clock.now() - w0)
        }
        if signal != 0 { return .signal(signal) }
        if evalDue || (stopping && plan.evaluatesAtEnd), let knn {
            let seconds = evaluate(knn, model: model, iteration: it, epoch: plan.epoch(of: it))
            state.deadline?.sawEvaluation(seconds: seconds)
        }
        return outOfTime ? .outOfTime : nil
    }

    /// Rank 0 writes checkpoint.safetensors (and a numbered copy when due); every rank learns
    /// whether that worked. Returns the latest checkpoint's path.
    func saveCheckpoint(_ model: EsViT, after it: Int, plan: RunPlan) throws -> String {
        var written: [String] = [], failure: String? = nil
        if comm.isRoot {
            do {
                let paths = [files.latestCheckpoint] + (plan.numberedCheckpoint(after: it).map { [files.epochCheckpoint($0)] } ?? [])
                try model.saveCheckpoint(to: paths, info: plan.checkpointInfo(after: it), extraMetadata: plan.checkpointMetadata)
                clock.finished(.checkpoint)
                written = paths
            } catch { failure = "writing the checkpoint at iteration \(it) failed: \(error)" }
        }
        try agree(failure)
        if !written.isEmpty { reporter.say("checkpoint: " + written.joined(separator: ", ") + " (iteration \(it))") }
        return files.latestCheckpoint
    }

    /// k-NN of the teacher; returns the seconds it took on this rank's clock.
    func evaluate(_ knn: PeriodicKNN, model: EsViT, iteration: Int, epoch: Int) -> Double {
        let e0 = clock.now()
        let r = knn.run(source: model.table, params: model.teacher.pointer, comm: comm)
        clock.finished(.evaluation)
        reporter.evaluation(r, knn: knn, iteration: iteration, epoch: epoch)
        return clock.now() - e0
    }

    func periodicKNN(_ model: EsViT) -> PeriodicKNN? {
        let c = config
        return evaluation.map {
            PeriodicKNN(config: c.backbone, inputSize: c.crops.globalSize, train: $0.train, test: $0.test, trainLimit: c.evalTrainLimit,
                        testLimit: c.evalTestLimit, mean: c.crops.mean, std: c.crops.std,
                        correspondence: $0.regions.map { ($0, c.evalCorrespondenceLimit ?? 0) },
                        source: model.table, params: model.teacher.pointer)
        }
    }
}
