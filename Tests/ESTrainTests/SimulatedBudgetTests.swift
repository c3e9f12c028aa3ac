// The time budget's verdicts on a simulated clock (RunClock): the trainer runs in this process
// with the single-process communicator, and time advances only when the trainer reads the clock,
// so the plan, the deadline and the share of the budget used are the same on a machine 3× slower
// or faster, or under load — the verdict never depends on this machine's speed.
//   * a steady clock: the planned iterations all run, inside the budget; the schedules end where
//     they should; the printed --iterations reproduces the run bit for bit;
//   * a clock that runs twice as slow from iteration 20 (a machine that slows down after the
//     probe): the deadline stops the run inside the budget with a checkpoint, and the same
//     configuration run again finishes the plan.
@testable import ESTrain
import ESData
import ESDistributed
import ESModel
import ESTestSupport
import Foundation
import XCTest

final class SimulatedBudgetTests: XCTestCase {
    override func setUpWithError() throws {
        guard Harness.haveData else { throw XCTSkip("dataset-fashion-mnist is not installed (launch/setup.sh installs it)") }
    }

    /// The tiny run of the process tests (Harness.tiny), sized by a budget or an iteration count.
    func config(_ dir: String, budgetMinutes: Double? = nil, iterations: Int? = nil) throws -> PretrainConfig {
        var crops = MultiCropConfig.fashionMNIST
        crops.localCrops = 2
        var c = PretrainConfig(arch: .swinMini, backbone: try XCTUnwrap(SwinConfig.preset("swin_mini")),
                               head: HeadConfig(hidden: 64, bottleneck: 32, outDim: 256, normLastLayer: true), useDensePrediction: true,
                               crops: crops, dataset: .fashionMNIST, dataPath: FashionMNIST.defaultRoot, outputDir: dir)
        c.lr = 0.05; c.batchSizePerRank = 4; c.logEvery = 1; c.saveckpIters = 0; c.checkEvery = 1
        c.timeBudgetMinutes = budgetMinutes; c.iterations = iterations
        return c
    }

    final class Lines: @unchecked Sendable { var all: [String] = [] }

    func run(_ c: PretrainConfig, clock: RunClock) throws -> (RunSummary, String) {
        let lines = Lines()
        let source = try FashionMNIST(root: c.dataPath, split: .train)
        let t = try Trainer(config: c, comm: SingleProcessCommunicator(), source: source, clock: clock, say: { lines.all.append($0) })
        let summary = try t.run()
        return (summary, lines.all.joined(separator: "\n"))
    }

    /// The planned iteration count printed in "To repeat this run exactly: --iterations N".
    func planned(_ out: String) throws -> Int {
        let line = try XCTUnwrap(out.split(separator: "\n").first { $0.contains("To repeat this run exactly: --iterations") }, out)
        return try XCTUnwrap(Int(line.split(separator: " ").reversed()[3]), String(line))
    }

    // An iteration costs 0.08 simulated seconds and a checkpoint write 0.5, so a 12-second budget
    // holds about a hundred tiny iterations after the probe's 11: enough for the schedule checks
    // (the cosines reach their end values within the checks' tolerances for n ≳ 100).
    let step = 0.08, checkpoint = 0.5, budget = 0.2
    func steady() -> SimulatedClock { SimulatedClock(step: step, checkpoint: checkpoint) }

    func testASteadyMachineRunsThePlanInsideTheBudgetAndItsIterationsReproduceIt() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-simbudget")
        let (s, out) = try run(try config(tmp.path("a"), budgetMinutes: budget), clock: steady())
        let n = try planned(out)
        XCTAssertGreaterThan(n, 100, out)
        XCTAssertEqual(s.lastIteration, n, "every planned iteration ran:\n\(out)")
        XCTAssertTrue(out.contains("finished all \(n) iterations"), out)
        let used = try XCTUnwrap(out.split(separator: "\n").first { $0.hasPrefix("time budget: planned") }, out)
        let share = try BudgetRunTests.share(used)
        print("simulated steady run: \(n) iterations; \(used)")
        XCTAssertLessThanOrEqual(share, 100, String(used))
        XCTAssertGreaterThan(share, 80, "the plan uses the budget, not a fraction of it: \(used)")
        try BudgetRunTests.checkSchedulesEnd(tmp.path("a"), iterations: n)
        // The printed --iterations N on the wall clock: bit-identical checkpoint.
        _ = try run(try config(tmp.path("b"), iterations: n), clock: WallClock())
        let a = try Harness.tensors(tmp.path("a/checkpoint.safetensors")), b = try Harness.tensors(tmp.path("b/checkpoint.safetensors"))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        XCTAssertEqual(Harness.maxDifference(a, b, prefixes: ["student.", "teacher.", "optimizer.", "loss."]), 0)
    }

    func testAMachineThatSlowsDownIsStoppedInsideItsBudgetAndTheSameRunFinishes() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-simdeadline")
        let c = try config(tmp.path("a"), budgetMinutes: budget)
        let (s, out) = try run(c, clock: SimulatedClock(step: step, slowStep: 2 * step, slowFrom: 20, checkpoint: checkpoint))
        let n = try planned(out)
        let k = s.lastIteration
        print("simulated slowed run: planned \(n) iterations, the deadline stopped it at \(k)")
        XCTAssertTrue(k > 20 && k < n, "stopped after the slow-down began and before the plan's end: \(k) of \(n)\n\(out)")
        XCTAssertTrue(out.contains("time budget reached: stopped at iteration \(k) of the \(n) planned"), out)
        let used = try XCTUnwrap(out.split(separator: "\n").first { $0.hasPrefix("time budget: planned") }, out)
        XCTAssertLessThanOrEqual(try BudgetRunTests.share(used), 100, String(used))
        XCTAssertTrue(out.contains("checkpoint: \(tmp.path("a"))/checkpoint.safetensors (iteration \(k))"), out)
        // Run again (a steady machine): it resumes at k and ends the plan.
        let (s1, o1) = try run(c, clock: steady())
        XCTAssertEqual(s1.firstIteration, k)
        XCTAssertTrue(o1.contains("continuing the time-budgeted run's plan of \(n) iterations"), o1)
        XCTAssertTrue(o1.contains("finished all \(n) iterations"), o1)
        try BudgetRunTests.checkSchedulesEnd(tmp.path("a"), iterations: n)
    }
}
