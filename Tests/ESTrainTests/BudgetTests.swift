// Learning on a CPU budget (--time-budget, --iterations, presets, collapse monitoring):
//   * the planner picks the largest iteration count whose predicted time fits, and counts the
//     evaluations and checkpoint writes the training loop will do;
//   * a budgeted run prints its plan, finishes inside its budget (on a simulated clock, so the
//     verdict is the same on any machine), and its schedules end where they should (lr at min_lr, wd at its end value, momentum 1, temperature warmed up at 10 %);
//   * the --iterations N it prints reproduces it bit for bit (the timing probe leaves no trace);
//   * presets expand to options the command line overrides; epoch options are refused with a
//     budget; the collapse monitor warns once, only when a signature persists.
@testable import ESTrain
import ESData
import ESModel
import ESTestSupport
import Foundation
import XCTest
import ArgumentParser

final class BudgetPlanTests: XCTestCase {
    func testLargestIterationCountThatFits() {
        // 100 s budget, 10 s spent, 4 s margin: 86 s for 0.5 s steps, an evaluation (2 s) every
        // 50 iterations and at the end, a checkpoint (1 s) every 100 and at the end.
        let evals = { (t: Int) in (t + 49) / 50 }, ckpts = { (t: Int) in t / 100 + 1 }
        let p = BudgetPlan(budgetSeconds: 100, elapsedSeconds: 10, stepSeconds: 0.5, evalSeconds: 2, checkpointSeconds: 1,
                           evaluations: evals, checkpoints: ckpts)
        func cost(_ t: Int) -> Double { 0.5 * Double(t) + 2 * Double(evals(t)) + Double(ckpts(t)) }
        XCTAssertEqual(p.marginSeconds, 4)
        XCTAssertLessThanOrEqual(cost(p.iterations), 86)
        XCTAssertGreaterThan(cost(p.iterations + 1), 86)
        XCTAssertEqual(p.iterations, 152)      // 76 + 2·4 + 2 = 86; at 153: 86.5
        XCTAssertEqual(p.predictedSeconds, 10 + cost(p.iterations), accuracy: 1e-9)
        // Nothing fits: zero iterations (the trainer turns that into an error with the numbers).
        XCTAssertEqual(BudgetPlan(budgetSeconds: 10, elapsedSeconds: 12, stepSeconds: 1, evalSeconds: 0, checkpointSeconds: 0,
                                  evaluations: { _ in 0 }, checkpoints: { _ in 0 }).iterations, 0)
    }

    func testPlannerCountsTheScheduleTheLoopFollows() throws {
        // The planner's closed-form counts against the loop's predicates asked after every
        // iteration, for periods that coincide, nest, are coprime or are off.
        var c = PretrainConfig(arch: .swinMini, backbone: try XCTUnwrap(SwinConfig.preset("swin_mini")),
                               head: HeadConfig(hidden: 8, bottleneck: 4, outDim: 16, normLastLayer: false), useDensePrediction: false,
                               crops: .fashionMNIST, dataset: .fashionMNIST, dataPath: "", outputDir: "")
        var cases = 0
        for ipe in [1, 7, 12] {
            for (every, everyIters) in [(0, 0), (0, 5), (1, 0), (2, 0), (1, 4), (3, 6), (2, 14)] {
                for saveIters in [0, 1, 6, 10] {
                    c.evalEvery = every; c.evalEveryIters = everyIters; c.saveckpIters = saveIters
                    for t in [1, 2, 5, 6, 12, 13, 28, 84, 85, 100] {
                        let evals = (1...t).filter { c.evaluationDue(after: $0, iterationsPerEpoch: ipe) || ($0 == t && c.evaluatesAtEnd) }.count
                        let ckpts = (1...t).filter { c.checkpointDue(after: $0, iterationsPerEpoch: ipe) || $0 == t }.count
                        let what = "ipe \(ipe), --eval-every \(every), --eval-every-iters \(everyIters), --saveckp-iters \(saveIters), \(t) iterations"
                        XCTAssertEqual(c.evaluationCount(iterations: t, iterationsPerEpoch: ipe), evals, what)
                        XCTAssertEqual(c.checkpointCount(iterations: t, iterationsPerEpoch: ipe), ckpts, what)
                        cases += 1
                    }
                }
            }
        }
        XCTAssertEqual(cases, 3 * 7 * 4 * 10)
        XCTAssertEqual(c.evaluationCount(iterations: 0, iterationsPerEpoch: 7), 0)
    }

    func testPresetsExpandAndTheCommandLineWins() throws {
        // Parsed in-process, as `esvit pretrain` parses them (validation included).
        let data = NSTemporaryDirectory()
        func config(_ args: [String]) throws -> PretrainConfig {
            try PretrainOptions.parse(args + ["--output-dir", "x", "--data-path", data]).resolved()
        }
        let quick = try XCTUnwrap(RecipePreset.named("fm-quick"))
        let e = try config(["--preset", "fm-quick", "--time-budget", "30"])
        XCTAssertEqual(e.timeBudgetMinutes, 30, "the user's --time-budget replaces the preset's")
        XCTAssertEqual(e.lr, 0.002, "the preset's other settings stay")
        XCTAssertEqual(e.backbone.patchSize, 4)
        XCTAssertEqual(quick.settings.count, 9)
        // The run length is one choice: --iterations replaces the preset's --time-budget.
        let it = try config(["--preset", "fm-quick", "--iterations", "100"])
        XCTAssertNil(it.timeBudgetMinutes)
        XCTAssertEqual(it.iterations, 100)
        // Options with several values replace the preset's as a whole.
        let blur = try config(["--preset", "fm-quick", "--blur-sigma", "0", "0"])
        XCTAssertEqual(blur.crops.blurSigma, [0, 0], "the preset's two values went with its option")
        var plain = PretrainConfig(outputDir: "x"); plain.dataPath = data; plain.threads = try config([]).threads
        XCTAssertEqual(try config([]), plain, "no preset: the defaults")
        XCTAssertThrowsError(try PretrainOptions.parse(["--preset", "nope"]), "unknown presets are refused by validation") {
            XCTAssertTrue(PretrainOptions.message(for: $0).contains("unknown --preset 'nope'"), PretrainOptions.message(for: $0))
        }
        for p in RecipePreset.all {
            var c = PretrainConfig()
            p.apply(to: &c)
            XCTAssertNotNil(c.timeBudgetMinutes, "\(p.name) is a time-budgeted recipe")
            XCTAssertTrue(p.commandLine.contains("--time-budget"), p.commandLine)
        }
        // The region-off seeds of docs/results.md ran `--preset fm-2h --use-dense-prediction false`;
        // `--preset fm-2h-noregion` must set exactly the same options to the same values.
        var measured = try config(["--preset", "fm-2h", "--use-dense-prediction", "false", "--seed", "2"])
        var noregion = try config(["--preset", "fm-2h-noregion", "--seed", "2"])
        measured.preset = nil; noregion.preset = nil
        XCTAssertEqual(noregion, measured)
        XCTAssertFalse(measured.useDensePrediction)
        XCTAssertTrue(try config(["--preset", "fm-2h"]).useDensePrediction, "fm-2h keeps the default: region loss on")
    }

    /// The deadline asks whether one more iteration fits, so one slow step in the recent window
    /// sets the estimate (a mean let CI runs overrun by 0.1 %); every cost carries the safety factor.
    func testDeadlineBudgetsTheSlowestRecentStepAndTheFinalCosts() {
        var d = BudgetDeadline(end: 100, plan: nil)
        d.sawCheckpoint(seconds: 0.5); d.sawCheckpoint(seconds: 0.2)
        d.sawEvaluation(seconds: 2)
        let recent = ArraySlice(Array(repeating: 0.1, count: 19) + [0.3])
        let s = Trainer.stepSafety
        XCTAssertEqual(d.secondsForOneMore(recentSteps: recent, checkpointNow: false, evalNow: false, finalEval: false), (0.3 + 0.5) * s, accuracy: 1e-12)
        XCTAssertEqual(d.secondsForOneMore(recentSteps: recent, checkpointNow: true, evalNow: true, finalEval: true), (0.3 + 2 * 0.5 + 2 * 2) * s, accuracy: 1e-12)
        let need = (0.3 + 0.5 + 2) * s
        XCTAssertTrue(d.oneMoreFits(now: 100 - need - 1e-9, recentSteps: recent, checkpointNow: false, evalNow: false, finalEval: true))
        XCTAssertFalse(d.oneMoreFits(now: 100 - need + 1e-6, recentSteps: recent, checkpointNow: false, evalNow: false, finalEval: true))
        XCTAssertEqual(d.secondsForOneMore(recentSteps: [], checkpointNow: false, evalNow: false, finalEval: false), 0.5 * s, accuracy: 1e-12,
                       "no step measured yet and no plan: only the checkpoint")
    }

    func testCollapseMonitorWarnsOnceWhenASignaturePersists() {
        let K = 1024, lnK = log(Double(K))
        func summary(batch: Double, sample: Double) -> TeacherSummary {
            // A batch distribution with the requested entropy is not needed: build Head directly.
            TeacherSummary(view: .init(batchEntropy: batch, sampleEntropy: sample, kl: 0.01), region: nil, classes: K)
        }
        var m = CollapseMonitor(patience: 3)
        let healthy = summary(batch: 0.9 * lnK, sample: 0.5 * lnK)
        let uniform = summary(batch: lnK, sample: 0.99 * lnK)
        let oneHot = summary(batch: 0.1 * lnK, sample: 0.05 * lnK)
        XCTAssertNil(m.observe(healthy, iteration: 10))
        XCTAssertNil(m.observe(uniform, iteration: 20))
        XCTAssertNil(m.observe(uniform, iteration: 30))
        XCTAssertNil(m.observe(healthy, iteration: 40), "an interrupted streak starts over")
        XCTAssertNil(m.observe(uniform, iteration: 50))
        XCTAssertNil(m.observe(uniform, iteration: 60))
        let w = m.observe(uniform, iteration: 70)
        XCTAssertTrue(w?.contains("uniform collapse of the view head") == true, w ?? "no warning")
        XCTAssertTrue(w?.contains("--teacher-temp") == true)
        XCTAssertNil(m.observe(uniform, iteration: 80), "printed once")
        var m2 = CollapseMonitor(patience: 2)
        XCTAssertNil(m2.observe(oneHot, iteration: 1))
        XCTAssertTrue(m2.observe(oneHot, iteration: 2)?.contains("one-dimension collapse") == true)
        // Entropy of the batch-averaged distribution from probability sums: uniform → ln K.
        let h = TeacherSummary.Head(probabilitySum: [Double](repeating: 2.0 / Double(K), count: K), entropySum: 0, rows: 2, loss: 1, pairEntropy: 0.25)
        XCTAssertEqual(h.batchEntropy, lnK, accuracy: 1e-12)
        XCTAssertEqual(h.kl, 0.75)
    }
}

final class BudgetRunTests: XCTestCase {
    override func setUpWithError() throws {
        guard Harness.haveData else { throw XCTSkip("dataset-fashion-mnist is not installed (launch/setup.sh installs it)") }
    }

    /// The tiny run without its epoch options (a budgeted run is sized in iterations).
    static var tinyIterations: [String] {
        var a = Harness.tiny, i = 0
        var out: [String] = []
        while i < a.count {
            if ["--epochs", "--warmup-epochs", "--warmup-teacher-temp-epochs", "--freeze-last-layer", "--log-every"].contains(a[i]) { i += 2; continue }
            out.append(a[i]); i += 1
        }
        a = out
        return a + ["--batch-size-per-rank", "4", "--log-every", "1"]
    }

    static func logRows(_ dir: String) throws -> [[String: Any]] {
        try String(contentsOfFile: dir + "/log.txt", encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The command's library path end to end on the wall clock, in this process: a plan, a run, the printed --iterations that
    /// reproduces it. Whether it ends inside its budget on this machine is not asserted here (a
    /// loaded or throttled machine may take longer than any probe predicts, and no test compares
    /// wall time with a limit): the planner's fit and the deadline are held to their verdicts with
    /// a simulated clock in SimulatedBudgetTests. Here the budget line is only read and printed.
    func testBudgetedRunPlansEndsItsSchedulesAndIsReproducible() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-budget")
        let budget = 0.4   // minutes
        let started = Date()
        let (c, o) = Harness.inProcess(BudgetRunTests.tinyIterations + ["--time-budget", "\(budget)", "--output-dir", tmp.path("a")])
        let wall = Date().timeIntervalSince(started)
        XCTAssertEqual(c, 0, o)
        // The plan, printed before training, and the truth after.
        let planLine = try XCTUnwrap(o.split(separator: "\n").first { $0.contains("To repeat this run exactly: --iterations") }, o)
        let n = try XCTUnwrap(Int(planLine.split(separator: " ").reversed()[3]), String(planLine))
        XCTAssertGreaterThan(n, 0, "a 24 s budget holds tiny iterations")
        XCTAssertTrue(o.contains("schedule: \(n) iterations"), o)
        let used = try XCTUnwrap(o.split(separator: "\n").first { $0.hasPrefix("time budget: planned") }, o)
        print("budgeted run: \(n) iterations; \(used); process wall time \(String(format: "%.1f", wall)) s")
        print("budget share used: \(try BudgetRunTests.share(used)) %")
        if o.contains("time budget reached") {
            // The machine slowed down after the probe and the deadline stopped the run: the same
            // command finishes the plan (and the result must still equal the --iterations run).
            print("the deadline stopped the run; finishing it with the same command")
            let (c1, o1) = Harness.inProcess(BudgetRunTests.tinyIterations + ["--time-budget", "\(budget)", "--output-dir", tmp.path("a")])
            XCTAssertEqual(c1, 0, o1)
            XCTAssertTrue(o1.contains("continuing the time-budgeted run's plan of \(n) iterations"), o1)
        }
        try BudgetRunTests.checkSchedulesEnd(tmp.path("a"), iterations: n)
        // Same options with the printed --iterations: bit-identical checkpoint.
        let (c2, o2) = Harness.inProcess(BudgetRunTests.tinyIterations + ["--iterations", "\(n)", "--output-dir", tmp.path("b")])
        XCTAssertEqual(c2, 0, o2)
        let a = try Harness.tensors(tmp.path("a/checkpoint.safetensors")), b = try Harness.tensors(tmp.path("b/checkpoint.safetensors"))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        XCTAssertEqual(Harness.maxDifference(a, b, prefixes: ["student.", "teacher.", "optimizer.", "loss."]), 0)
    }

    /// The share of the budget in the "time budget: planned … used … (x%)" line.
    static func share(_ line: Substring) throws -> Double {
        try XCTUnwrap(Double(line.split(separator: "(")[1].split(separator: "%")[0]), String(line))
    }

    /// log.txt of a finished tiny budgeted run of `n` iterations: one row per iteration, and
    /// every schedule where it should be at the start, after the warmups and at the end.
    static func checkSchedulesEnd(_ dir: String, iterations n: Int) throws {
        let rows = try BudgetRunTests.logRows(dir).filter { $0["lr"] != nil }
        XCTAssertEqual(rows.count, n, "one progress row per iteration")
        let last = try XCTUnwrap(rows.last)
        XCTAssertEqual(last["iteration"] as? Int, n)
        // Logged values are those of the iteration just run (hyper of it − 1).
        // The lr cosine's last iteration (one step before --min-lr), after a warmup of 1/30 of the run.
        let peak = 0.05 * 4 / 256, M = Double(n - Int((Double(n) / 30).rounded()))
        let lastLR = 1e-6 + 0.5 * (peak - 1e-6) * (1 + cos(Double.pi * (M - 1) / M))
        XCTAssertEqual(try XCTUnwrap(last["lr"] as? Double), Double(Float(lastLR)), accuracy: 1e-12, "the lr cosine ends at --min-lr")
        // Weight decay and teacher momentum: cosines over all n iterations (no warmup), at n − 1;
        // closed forms for any n (the wall-clock run's n depends on the machine's speed). The
        // logged values went through Float: 1e-7 is a few of its ulps at these magnitudes.
        let endCos = 1 + cos(Double.pi * Double(n - 1) / Double(n))
        XCTAssertEqual(try XCTUnwrap(last["wd"] as? Double), 0.4 + 0.5 * (0.04 - 0.4) * endCos, accuracy: 1e-7, "wd cosine ends at 0.4")
        XCTAssertEqual(try XCTUnwrap(last["momentum"] as? Double), 1 + 0.5 * (0.996 - 1) * endCos, accuracy: 1e-7, "momentum cosine ends at 1")
        XCTAssertEqual(try XCTUnwrap(last["teacher_temp"] as? Double), 0.07, accuracy: 1e-7)
        XCTAssertEqual(try XCTUnwrap(rows[0]["lr"] as? Double), 0, "warmup starts at 0")
        // Temperature warmup: a linear ramp over 10 % of the run (numpy's linspace), reaching 0.07
        // at its last iteration and not before.
        let w = Int((0.1 * Double(n)).rounded())
        XCTAssertEqual(try XCTUnwrap(rows[w - 1]["teacher_temp"] as? Double), 0.07, accuracy: 1e-7)
        let beforeEnd = 0.04 + (0.07 - 0.04) * Double(w - 2) / Double(w - 1)
        XCTAssertEqual(try XCTUnwrap(rows[w - 2]["teacher_temp"] as? Double), beforeEnd, accuracy: 1e-7)
        XCTAssertLessThan(beforeEnd, 0.07 - 1e-6, "the ramp has not ended one iteration before")
        XCTAssertNotNil(rows[0]["teacher_sample_entropy_view"], "collapse statistics are logged")
        XCTAssertNotNil(rows[0]["kl_region"])
    }

    func testBudgetOptionsAreCheckedBeforeAnyWork() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-budget-opts")
        let cases: [([String], String)] = [
            (["--time-budget", "5", "--epochs", "3"], "--epochs sizes the run in epochs"),
            (["--iterations", "50", "--warmup-epochs", "1"], "use --warmup-fraction"),
            (["--iterations", "50", "--time-budget", "5"], "use either --iterations or --time-budget"),
            (["--time-budget", "0"], "--time-budget must be a positive number of minutes"),
            (["--iterations", "50", "--warmup-fraction", "1.5"], "--warmup-fraction must be in [0, 1)"),
            (["--preset", "fm-huge"], "unknown --preset 'fm-huge'"),
        ]
        for (extra, message) in cases {
            let (c, o) = Harness.inProcess(["--output-dir", tmp.path("run")] + extra)
            XCTAssertEqual(c, 64, "\(extra): \(o)")
            XCTAssertTrue(o.contains(message), "\(extra): expected '\(message)' in:\n\(o)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.path("run")))
        // A budget too short for one iteration after start-up: refused with the numbers.
        let (c, o) = Harness.inProcess(BudgetRunTests.tinyIterations + ["--time-budget", "0.001", "--output-dir", tmp.path("short")])
        XCTAssertEqual(c, 1, o)
        XCTAssertTrue(o.contains("is too short: start-up took"), o)
        // --print-preset shows the expansion and exits; it needs no --output-dir.
        let (c3, o3) = try Harness.single(["--preset", "fm-quick", "--print-preset"])
        XCTAssertEqual(c3, 0, o3)
        XCTAssertTrue(o3.contains("--time-budget 15"), o3)
        let (c4, o4) = try Harness.single(["--preset", "fm-quick"])
        XCTAssertEqual(c4, 64, o4)
        XCTAssertTrue(o4.contains("missing --output-dir"), o4)
    }
}
