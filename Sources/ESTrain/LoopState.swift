// What the training loop accumulates between its events: interval and epoch averages for the
// progress and epoch lines, recent step times (ETA and the deadline), the losses the run
// returns, the last checkpoint, the collapse monitor and the deadline's measured costs.
import ESLoss
import ESObjective

/// Why a run stopped before its planned end.
enum StopReason: Equatable { case signal(Int32), outOfTime }

struct LoopState {
    var meter = Meter(), epochMeter = EpochMeter()
    var losses: [Double] = [], stepTimes: [Double] = []
    var lastCheckpoint: String? = nil
    var monitor = CollapseMonitor()
    var deadline: BudgetDeadline?

    init(plan: RunPlan) { deadline = plan.deadline }

    /// Records finished iteration `it` (1-based) that took `seconds`. The first iteration of a
    /// run (warm-up) is left out of the step times unless it is the only one.
    mutating func record(_ step: StepOutcome, seconds: Double, hyper: StepHyper, iteration it: Int, plan: RunPlan) {
        losses.append(step.loss.total)
        if it > plan.firstIteration + 1 || plan.stopIteration - plan.firstIteration == 1 { stepTimes.append(seconds) }
        meter.add(step, seconds: seconds, images: plan.layout.globalBatch)
        epochMeter.add(loss: step.loss.total, lr: hyper.lr, wd: hyper.weightDecay, replaced: step.replaced)
    }
}

/// Interval averages for the progress line.
struct Meter {
    var steps = 0, images = 0
    var seconds = 0.0, dataWait = 0.0, reduce = 0.0, syncWait = 0.0, compute = 0.0
    var loss = LossValues(total: 0, view: 0, region: 0)
    mutating func add(_ s: StepOutcome, seconds t: Double, images n: Int) {
        steps += 1; images += n; seconds += t; dataWait += s.dataWait; reduce += s.reduce; syncWait += s.syncWait; compute += s.compute
        loss = LossValues(total: loss.total + s.loss.total, view: loss.view + s.loss.view, region: loss.region + s.loss.region)
    }
    var meanLoss: LossValues {
        let n = Double(max(steps, 1))
        return LossValues(total: loss.total / n, view: loss.view / n, region: loss.region / n)
    }
}

/// Per-epoch averages for log.txt (DINO's train_loss, train_lr, train_wd).
struct EpochMeter {
    struct Row { let loss: Double, lr: Double, wd: Double }
    var rows: [Row] = []
    var replaced = 0
    mutating func add(loss: Double, lr: Float, wd: Float, replaced r: Int) { rows.append(Row(loss: loss, lr: Double(lr), wd: Double(wd))); replaced += r }
    func mean(_ k: KeyPath<Row, Double>) -> Double { rows.isEmpty ? 0 : rows.map { $0[keyPath: k] }.reduce(0, +) / Double(rows.count) }
}
