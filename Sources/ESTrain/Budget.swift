// --time-budget MINUTES: turns a wall-clock budget into a fixed number of iterations before
// training starts, so every schedule (lr warmup and cosine, weight decay, teacher momentum,
// teacher-temperature warmup, last-layer freeze) spans exactly the iterations that fit.
// Rank 0 measures full iterations (forward, backward, both all-reduces, optimizer) on the real
// model, restores the state they changed, and plans; every rank receives the plan. The plan is
// stored in the run's configuration (and so in its checkpoints): a resumed run finishes the
// planned iterations, and `--iterations N` with the printed N reproduces the run exactly.
import ESCheckpoint
import ESData
import ESKernels
import ESModel
import ESObjective
import Foundation

public struct BudgetPlan: Codable, Equatable, Sendable {
    public let budgetSeconds: Double
    /// Already spent when the plan was made (start-up, data, first evaluation, the probe).
    public let elapsedSeconds: Double
    public let stepSeconds: Double
    public let evalSeconds: Double, evaluations: Int
    public let checkpointSeconds: Double, checkpoints: Int
    /// Left unplanned: `marginShare` of the budget, against step-time noise.
    public let marginSeconds: Double
    public let iterations: Int
    /// Iterations the probe timed.
    public let probeIterations: Int
    public static let marginShare = 0.04

    /// The largest iteration count whose predicted time fits the budget. `evaluations(T)` and
    /// `checkpoints(T)` count the periodic evaluations and checkpoint writes of a T-iteration run.
    public init(probeIterations: Int = 0, budgetSeconds: Double, elapsedSeconds: Double, stepSeconds: Double, evalSeconds: Double,
                checkpointSeconds: Double, evaluations: (Int) -> Int, checkpoints: (Int) -> Int) {
        self.probeIterations = probeIterations
        self.budgetSeconds = budgetSeconds; self.elapsedSeconds = elapsedSeconds; self.stepSeconds = stepSeconds
        self.evalSeconds = evalSeconds; self.checkpointSeconds = checkpointSeconds
        marginSeconds = BudgetPlan.marginShare * budgetSeconds
        let available = budgetSeconds - elapsedSeconds - marginSeconds
        func cost(_ t: Int) -> Double { Double(t) * stepSeconds + Double(evaluations(t)) * evalSeconds + Double(checkpoints(t)) * checkpointSeconds }
        var lo = 0, hi = 1
        while cost(hi) <= available && hi < 1 << 40 { lo = hi; hi *= 2 }
        while hi - lo > 1 { let mid = (lo + hi) / 2; if cost(mid) <= available { lo = mid } else { hi = mid } }
        iterations = lo
        self.evaluations = evaluations(lo); self.checkpoints = checkpoints(lo)
    }

    /// Predicted wall time of the whole command, from its start.
    public var predictedSeconds: Double {
        elapsedSeconds + Double(iterations) * stepSeconds + Double(evaluations) * evalSeconds + Double(checkpoints) * checkpointSeconds
    }
}

// The evaluation and checkpoint schedule, stated once: the training loop asks the predicates after
// each finished iteration `it` (1-based), and the planner counts what they say for a T-iteration
// run (exactly, by inclusion-exclusion: BudgetTests checks the counts against the predicates).
extension PretrainConfig {
    /// A periodic k-NN evaluation follows iteration `it`: every --eval-every-iters, and at the end
    /// of every --eval-every-th epoch.
    func evaluationDue(after it: Int, iterationsPerEpoch ipe: Int) -> Bool {
        (evalEveryIters > 0 && it % evalEveryIters == 0) || (evalEvery > 0 && it % (evalEvery * ipe) == 0)
    }
    /// --eval-every-iters also evaluates the last iteration (--eval-every alone evaluates at epoch ends only).
    var evaluatesAtEnd: Bool { evalEveryIters > 0 }
    /// checkpoint.safetensors is written after iteration `it`: at every epoch end and every
    /// --saveckp-iters (and, whatever this says, after the last iteration).
    func checkpointDue(after it: Int, iterationsPerEpoch ipe: Int) -> Bool {
        it % ipe == 0 || (saveckpIters > 0 && it % saveckpIters == 0)
    }

    /// Evaluations after iteration 0 in a run of `t` iterations (the one at iteration 0 has
    /// already run when the plan is made).
    func evaluationCount(iterations t: Int, iterationsPerEpoch ipe: Int) -> Int {
        guard t > 0 else { return 0 }
        let due = Self.multiples(upTo: t, of: evalEveryIters, or: evalEvery * ipe)
        return due + (evaluatesAtEnd && !evaluationDue(after: t, iterationsPerEpoch: ipe) ? 1 : 0)
    }

    /// Checkpoint writes in a run of `t` iterations.
    func checkpointCount(iterations t: Int, iterationsPerEpoch ipe: Int) -> Int {
        guard t > 0 else { return 0 }
        return Self.multiples(upTo: t, of: ipe, or: saveckpIters) + (checkpointDue(after: t, iterationsPerEpoch: ipe) ? 0 : 1)
    }

    /// How many of 1...t are multiples of `a` or of `b` (a period ≤ 0 is off).
    static func multiples(upTo t: Int, of a: Int, or b: Int) -> Int {
        func count(_ m: Int) -> Int { m > 0 ? t / m : 0 }
        guard a > 0, b > 0 else { return count(a) + count(b) }
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        let lcm = a / x * b
        return count(a) + count(b) - count(lcm)
    }
}

extension Trainer {
    /// The probe times between `probeRange.lowerBound` and `.upperBound` iterations after one
    /// untimed warm-up iteration: as many as fit in `probeShare` of the budget. Fewer timed steps
    /// make the plan noisy (docs/results.md, the time-budget planner in practice).
    static let probeRange = 10...30
    static let probeShare = 0.02
    /// The probe's mean step (the run's time is a sum of steps, so the mean, slow outliers
    /// included, is what predicts it) is scaled by this before planning: the iterations of a long
    /// run are slower than the probe's (caches, other load), and `BudgetPlan.marginShare` covers the rest.
    static let stepSafety = 1.10

    /// Measures iterations, restores the state, plans on rank 0 and shares the plan.
    func planTimeBudget(_ model: EsViT, minutes: Double, evalSeconds: Double) throws -> BudgetPlan {
        let c = config
        // Everything an iteration changes: parameters, teacher, optimizer, centers.
        let buffers = Trainer.stateBuffers(model)
        let saved = buffers.map { b -> [Float] in Array(UnsafeBufferPointer(start: b.pointer, count: b.count)) }
        let savedSteps = model.optimizer.steps
        let sampler = EpochSampler(count: source.count, worldSize: comm.size, rank: comm.rank, batchPerRank: c.batchSizePerRank, seed: c.seed)
        let loader = MultiCropLoader(source: source, sampler: sampler, config: c.crops, seed: c.seed, threads: c.loaderThreads,
                                     log: { _ in })
        loader.start(epoch: 0, fromIteration: 0)
        let scratch = StepScratch(classes: c.head.outDim, parameters: model.table.totalCount, accumulation: c.gradAccumSteps)
        let hyper = StepHyper(lr: 0, weightDecay: Float(c.weightDecay), teacherMomentum: Float(c.momentumTeacher),
                              teacherTemperature: Float(c.warmupTeacherTemp), clipGrad: Float(c.clipGrad), freezeLastLayer: false)
        let w0 = clock.now()
        _ = try trainStep(model, loader: loader, hyper: hyper, scratch: scratch, iteration: -1, statistics: false, lastCheckpoint: nil)
        // Rank 0 decides how many iterations to time from the warm-up one (every rank must run the same number).
        let warm = clock.now() - w0
        let wanted = Int((Trainer.probeShare * minutes * 60 / max(warm, 1e-3)).rounded(.up))
        let count = try comm.broadcast(min(max(wanted, Trainer.probeRange.lowerBound), Trainer.probeRange.upperBound))
        var times: [Double] = []
        for i in 0..<count {
            let t0 = clock.now()
            // Like the run: the collapse statistics on every --log-every-th iteration.
            _ = try trainStep(model, loader: loader, hyper: hyper, scratch: scratch, iteration: -1, statistics: (i + 1) % c.logEvery == 0,
                              lastCheckpoint: nil)
            times.append(clock.now() - t0)
        }
        loader.stop()
        for (b, s) in zip(buffers, saved) { s.withUnsafeBufferPointer { b.pointer.update(from: $0.baseAddress!, count: b.count) } }
        model.optimizer.steps = savedSteps
        var plan: BudgetPlan? = nil, failure: String? = nil
        if comm.isRoot {
            do {
                // One real checkpoint write (serialise, write, fsync, rename) to a scratch name, timed.
                let scratchPath = (c.outputDir as NSString).appendingPathComponent(".budget-probe.safetensors")
                let c0 = clock.now()
                try model.saveCheckpoint(to: [scratchPath], info: CheckpointInfo(epoch: 0, iteration: 0, globalSamplePosition: 0, seed: c.seed,
                                                                                worldSize: comm.size, samplesIntoEpoch: 0))
                clock.finished(.checkpoint)
                let checkpointSeconds = clock.now() - c0
                try? FileManager.default.removeItem(atPath: scratchPath)
                let ipe = layout.iterationsPerEpoch
                plan = BudgetPlan(probeIterations: times.count, budgetSeconds: minutes * 60, elapsedSeconds: clock.now() - startedAt,
                                      stepSeconds: times.reduce(0, +) / Double(times.count) * Trainer.stepSafety, evalSeconds: evalSeconds,
                                      checkpointSeconds: checkpointSeconds,
                                      evaluations: { c.evaluationCount(iterations: $0, iterationsPerEpoch: ipe) },
                                      checkpoints: { c.checkpointCount(iterations: $0, iterationsPerEpoch: ipe) })
            } catch {
                failure = "planning the time budget failed while timing a checkpoint write: \(error)"
            }
        }
        // The plan or the failure, in one broadcast.
        struct Outcome: Codable { var plan: BudgetPlan?, failure: String? }
        let outcome = try comm.broadcast(Outcome(plan: plan, failure: failure))
        if let e = outcome.failure { throw TrainError.checkpoint(e) }
        guard let plan = outcome.plan else { throw TrainError.config("the time-budget plan did not reach every rank (internal error)") }
        if plan.iterations < 1 {
            throw TrainError.config(String(format: "\(option(\.config.timeBudgetMinutes)) %.3g min is too short: start-up took %.0f s and one iteration "
                                           + "takes %.2f s; raise the budget or use \(option(\.config.iterations)) N", minutes, plan.elapsedSeconds, plan.stepSeconds))
        }
        return plan
    }
}

/// The deadline of a --time-budget command. After every iteration rank 0 asks whether one more
/// iteration (after the checkpoint or evaluation due now) and the final checkpoint and evaluation
/// still end inside the budget; if not, the run stops there and saves. The plan is a prediction
/// from a short probe: a machine that slows down afterwards (other jobs, a throttled VM) would
/// otherwise push the command past its budget. The costs start at the plan's figures and only
/// grow with what this command measures.
struct BudgetDeadline {
    /// clock.now() at which the budget ends.
    let end: Double
    /// The plan's step; the checkpoint and evaluation costs grow with what the run measures.
    let stepSeconds: Double
    private(set) var checkpointSeconds: Double, evalSeconds: Double

    init(end: Double, plan: BudgetPlan?) {
        self.end = end
        stepSeconds = plan?.stepSeconds ?? 0; checkpointSeconds = plan?.checkpointSeconds ?? 0; evalSeconds = plan?.evalSeconds ?? 0
    }

    mutating func sawCheckpoint(seconds: Double) { checkpointSeconds = max(checkpointSeconds, seconds) }
    mutating func sawEvaluation(seconds: Double) { evalSeconds = max(evalSeconds, seconds) }

    /// Seconds from now to the end of the command if it runs one more iteration: the checkpoint
    /// and evaluation due now, the iteration, then the final checkpoint and evaluation. The
    /// question is about one iteration, not an average, so its cost is the slowest of the recent
    /// ones (or the plan's step if larger); every cost carries the plan's safety factor. With the
    /// recent mean instead, a run that goes on while one more fits overruns its budget whenever
    /// the last step or checkpoint write is slower than usual.
    func secondsForOneMore(recentSteps: ArraySlice<Double>, checkpointNow: Bool, evalNow: Bool, finalEval: Bool) -> Double {
        let step = max(stepSeconds, (recentSteps.max() ?? 0) * Trainer.stepSafety)
        let checkpoint = checkpointSeconds * Trainer.stepSafety, evaluation = evalSeconds * Trainer.stepSafety
        return (checkpointNow ? checkpoint : 0) + (evalNow ? evaluation : 0) + step + checkpoint + (finalEval ? evaluation : 0)
    }

    func oneMoreFits(now: Double, recentSteps: ArraySlice<Double>, checkpointNow: Bool, evalNow: Bool, finalEval: Bool) -> Bool {
        now + secondsForOneMore(recentSteps: recentSteps, checkpointNow: checkpointNow, evalNow: evalNow, finalEval: finalEval) <= end
    }
}
