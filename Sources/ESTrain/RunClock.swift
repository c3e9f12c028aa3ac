// Where the trainer reads time: the time budget's probe and plan, the deadline, the progress
// line. Runs use the wall clock; tests inject a simulated one, so that a budget verdict is the
// same on a machine 3× slower or faster, or under load from another process.
import Foundation

/// Work the trainer reports to its clock as it finishes it.
public enum RunWork: Equatable, Sendable {
    /// One training iteration (the budget probe's are iteration -1).
    case step(iteration: Int)
    case checkpoint
    case evaluation
}

public protocol RunClock: AnyObject {
    /// Seconds on a monotonic clock.
    func now() -> Double
    /// The trainer finished `work` (a simulated clock advances here; the wall clock ignores it).
    func finished(_ work: RunWork)
}

/// The monotonic wall clock (DispatchTime's uptime).
public final class WallClock: RunClock {
    public init() {}
    public func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
    public func finished(_ work: RunWork) {}
}

/// A clock that advances only by the work reported to it: each iteration costs `step` seconds
/// (`slowStep` from iteration `slowFrom` on: a machine that slows down after the plan), each
/// checkpoint write `checkpoint` and each evaluation `evaluation` seconds. Everything else the
/// trainer does takes no time, whatever this machine's speed.
public final class SimulatedClock: RunClock {
    public private(set) var time: Double
    let step: Double, slowStep: Double, slowFrom: Int, checkpoint: Double, evaluation: Double

    public init(start: Double = 1000, step: Double, slowStep: Double? = nil, slowFrom: Int = .max, checkpoint: Double = 0, evaluation: Double = 0) {
        time = start; self.step = step; self.slowStep = slowStep ?? step; self.slowFrom = slowFrom
        self.checkpoint = checkpoint; self.evaluation = evaluation
    }

    public func now() -> Double { time }

    public func finished(_ work: RunWork) {
        switch work {
        case .step(let it): time += it >= slowFrom ? slowStep : step
        case .checkpoint: time += checkpoint
        case .evaluation: time += evaluation
        }
    }
}
