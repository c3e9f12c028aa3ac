// The data-parallel trainer is the single-process trainer with the batch split: 2 ranks × B/2
// match 1 rank × B (the averaged step-1 gradient within a float-error bound, the losses of 3
// steps and the centers within 1e-5, and every student and teacher weight within its own bound
// derived from both runs' gradients through the clip and Adam, which also covers the noise-sign
// steps Adam takes where a gradient is zero up to rounding, and only there), and so does gradient
// accumulation (1 rank × B/2 × 2 micro-batches), also through the recipe's warmups and freeze once
// the weights have moved; the same seed and world size give bit-identical runs; 6
// uninterrupted steps equal 3 + checkpoint + resume + 3 (bitwise with the same layout; with the
// resumed half on another number of ranks, losses and centers within 1e-5 and weights within
// their Adam bounds).
import ESTestSupport
import Foundation
import XCTest

final class DataParallelTests: XCTestCase {
    override func setUpWithError() throws {
        guard Harness.haveData else { throw XCTSkip("dataset-fashion-mnist is not installed (launch/setup.sh installs it)") }
        guard TestProcess.mpirun != nil else { throw XCTSkip("mpirun not found (launch/setup.sh installs openmpi-bin)") }
    }

    let every = ["student.", "teacher.", "loss.", "optimizer."]

    /// Per-iteration losses of two runs: every iteration in `iterations` present in both, and
    /// |a − b| / |b| ≤ rel (a scalar-per-iteration check, not a tensor tolerance).
    func assertLossesClose(_ a: [Int: Double], _ b: [Int: Double], iterations: ClosedRange<Int>, rel: Double, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        for it in iterations {
            guard let x = a[it], let y = b[it] else { return XCTFail("\(what): iteration \(it) missing (\(a.keys.sorted()), \(b.keys.sorted()))", file: file, line: line) }
            XCTAssertLessThanOrEqual(abs(x - y) / abs(y), rel, "\(what): loss at iteration \(it): \(x) vs \(y)", file: file, line: line)
        }
    }

    /// Largest per-tensor relative difference max|a − b| / max|b| over two gradient dumps.
    func gradientDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Float {
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        var worst: Float = 0
        for (k, g) in b {
            guard let h = a[k] else { return .infinity }
            let scale = max(g.map(abs).max() ?? 0, 1e-30)
            for i in 0..<g.count { worst = max(worst, abs(h[i] - g[i]) / scale) }
        }
        return worst
    }

    // Tolerances of the data-parallel identity, from float error rather than from one machine.
    // Every weight-gradient element is an fp32 sum over the global batch's tokens: at most
    // N = 8 images × (2 × 16² global + 2 × 8² local tokens) = 5120 products per reduction in the
    // tiny run, summed in another order when the batch is split (per rank, then the all-reduce;
    // or per micro-batch). With u = 2⁻²⁴ the random-walk error of one reduction is about
    // √N·u ≈ 4.3e-6 of its magnitude (the worst case N·u ≈ 3e-4), and the backward chains about a
    // dozen such reductions. `gradientTolerance` = 1e-4 of each tensor's largest element covers
    // that on any x86 (AVX2 or AVX-512 kernels, any OpenBLAS core type: only the order of the sums
    // differs) and is still 5000× below what a wrong average does (dividing by W instead of W·A
    // is off by a factor of 2, a relative error of 0.5).
    static let gradientTolerance: Float = 1e-4
    // The weights after 3 steps follow from the gradients through per-tensor clipping and AdamW,
    // whose update lr·m̂/(√v̂ + ε) is not continuous where √v̂ is at rounding level: a gradient
    // that is zero up to rounding (a dead GELU unit) gets a ±lr step whose sign is noise, on any
    // machine and in any data-parallel code, and from step 2 on the gradients also see that
    // difference in the weights. So each weight gets its own bound from the two runs' gradients
    // (both dumped): with D the largest difference of its clipped gradients so far, Adam's
    // weighted mean m̂ and RMS √v̂ move by at most D, and |m̂/√v̂| ≤ rMax (1.0036 after 3 steps;
    // Cauchy–Schwarz on Adam's weights, see AdamBound), so one step differs by at most
    // lr · min(2·rMax, (1 + |r|)·D / (√v̂ − D)). The teacher (EMA) differs by (1 − momentum) of the
    // student's differences; `slack` covers the rounding of the update itself (a few ulps of
    // weights below 1). The check holds the optimizer and EMA to the gradients they were given.
    static let slack = 1e-6

    func testTwoRanksAndAccumulationMatchOneRankWithTheWholeBatch() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-dp")
        for name in ["one", "two", "acc"] { try FileManager.default.createDirectory(atPath: tmp.path("g-" + name), withIntermediateDirectories: true) }
        func dump(_ name: String) -> [String: String] { ["ESVIT_DUMP_GRADIENTS": tmp.path("g-" + name)] }
        let (c1, o1) = try Harness.single(Harness.tiny + ["--batch-size-per-rank", "8", "--max-iters", "3", "--output-dir", tmp.path("one")], env: dump("one"))
        XCTAssertEqual(c1, 0, o1)
        let (c2, o2) = try Harness.ranks(2, Harness.tiny + ["--batch-size-per-rank", "4", "--max-iters", "3", "--output-dir", tmp.path("two")], env: dump("two"))
        XCTAssertEqual(c2, 0, o2)
        XCTAssertTrue(o2.contains("ranks 2 × batch 4 × accumulation 1 = global batch 8"), o2)
        let (c3, o3) = try Harness.single(Harness.tiny + ["--batch-size-per-rank", "4", "--grad-accum-steps", "2", "--max-iters", "3",
                                                          "--output-dir", tmp.path("acc")], env: dump("acc"))
        XCTAssertEqual(c3, 0, o3)
        let l1 = try Harness.losses(tmp.path("one")), t1 = try Harness.tensors(tmp.path("one/checkpoint.safetensors"))
        let refGrads = try (0..<3).map { try Harness.tensors(tmp.path("g-one/grads\($0).safetensors")) }
        // tiny: no warmup (lr at most its peak), clip-grad 3, teacher momentum from 0.996 up.
        for name in ["two", "acc"] {
            // The identity itself: the averaged gradient of step 1 (same parameters everywhere).
            let grads = try (0..<3).map { try Harness.tensors(tmp.path("g-\(name)/grads\($0).safetensors")) }
            let g = gradientDifference(grads[0], refGrads[0])
            XCTAssertLessThanOrEqual(g, DataParallelTests.gradientTolerance, "\(name): averaged gradient of step 1 differs from 1 rank × 8 (relative to each tensor's scale)")
            // tiny: no warmup (lr at most its peak), clip-grad 3, teacher momentum from 0.996 up.
            let bounds = AdamBound(lr: 0.05 * 8 / 256, clip: 3, momentum: 0.996, steps: grads, reference: refGrads)
            assertLossesClose(try Harness.losses(tmp.path(name)), l1, iterations: 1...3, rel: 1e-5, name)
            let t = try Harness.tensors(tmp.path("\(name)/checkpoint.safetensors"))
            XCTAssertEqual(Set(t.keys), Set(t1.keys))
            let d = Harness.maxDifference(t, t1, prefixes: ["loss."])
            XCTAssertLessThanOrEqual(d, 1e-5, "\(name): centers after 3 steps differ from 1 rank × 8 by \(d)")
            let share = assertWithinBounds(t, t1, bounds, name)
            print("\(name) vs 1 rank × 8: step-1 gradient rel. diff \(g), centers max diff \(d); student and teacher within their bounds "
                  + "(at most \(String(format: "%.2f", share)) of one)")
        }
        // The weights did move (student ≠ its EMA teacher), so the comparison means something.
        var moved: Float = 0
        for (k, v) in t1 where k.hasPrefix("student.") {
            let t = t1["teacher." + k.dropFirst("student.".count)]!
            for i in 0..<v.count { moved = max(moved, abs(v[i] - t[i])) }
        }
        XCTAssertGreaterThan(moved, 1e-4, "the student never left the teacher")
    }

    /// Every student and teacher weight of `t` within its AdamBound of `ref` (plus `slack`). The
    /// bound must be a real constraint: only weights whose gradient is zero up to float error
    /// (quiet: within `gradientTolerance` of their tensor's largest element in some step) may take
    /// the cap, and every other weight must be bounded below 1e-5, a hundredth of one Adam step
    /// (the share of quiet weights, measured on the reference run alone, is the only slack).
    /// Returns the largest difference as a share of its bound.
    @discardableResult
    func assertWithinBounds(_ t: [String: [Float]], _ ref: [String: [Float]], _ bounds: AdamBound, _ name: String,
                            file: StaticString = #filePath, line: UInt = #line) -> Double {
        var over = 0, worstShare = 0.0, tight = 0, total = 0, loose = 0
        XCTAssertEqual(Set(t.keys), Set(ref.keys), "\(name): both checkpoints hold the same tensors", file: file, line: line)
        for (k, x) in t where k.hasPrefix("student.") || k.hasPrefix("teacher.") {
            guard let y = ref[k], y.count == x.count else { XCTFail("\(name): \(k) missing or of another size", file: file, line: line); continue }
            let student = k.hasPrefix("student.")
            guard let b = bounds.perWeight["grad." + k.dropFirst("student.".count)] else { XCTFail("no gradient for \(k)", file: file, line: line); continue }
            for i in 0..<x.count {
                let limit = (student ? b.student[i] : b.teacher[i]) + DataParallelTests.slack
                let e = Double(abs(x[i] - y[i]))
                if e > limit { over += 1; if over <= 5 { XCTFail("\(name): \(k)[\(i)] differs by \(e), bound \(limit)", file: file, line: line) } }
                worstShare = max(worstShare, e / limit)
                if student { total += 1; if limit < 1e-5 { tight += 1 } else if !b.quiet[i] { loose += 1 } }
            }
        }
        XCTAssertEqual(over, 0, "\(name): weights beyond their bound", file: file, line: line)
        XCTAssertEqual(bounds.cappedLoud, 0, "\(name): weights whose gradient is not zero up to float error took Adam's full-step bound",
                       file: file, line: line)
        XCTAssertEqual(loose, 0, "\(name): student weights whose gradient is not at float-error level have a bound of 1e-5 or more", file: file, line: line)
        print("\(name): \(bounds.capped) of \(total) student weights (\(String(format: "%.3f", 100 * Double(bounds.capped) / Double(total))) %) took the cap, "
              + "all of them among the \(bounds.quietWeights) quiet ones; \(tight) bounded below 1e-5; largest bound used \(bounds.largest)")
        return worstShare
    }

    /// The same comparison through the recipe's schedules (docs/algorithm.md §5.1: lr warmup from
    /// 0, teacher-temperature warmup, weight-decay and momentum cosines, last layer frozen first),
    /// in iteration mode so that 3 steps reach them: a 30-iteration run with the lr warming up over
    /// 3 iterations (0, peak/2, peak: peak 0.05 × 8 / 256), the temperature over 6 and the last
    /// layer frozen for 2. The weights must move (a median of more than 1e-4, ten times the bound
    /// every weight whose gradient is not zero up to float error must meet) before agreeing within
    /// their Adam bounds (the frozen steps left out); the averaged gradients of steps 1 and 2 within
    /// the float-error tolerance, the AdamW moments and the centers within 1e-5, the losses within
    /// 1e-5 relative, the same tensor names in both files.
    func testTwoRanksMatchOneRankThroughTheRecipeSchedules() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-dp-recipe")
        for name in ["g-one", "g-two"] { try FileManager.default.createDirectory(atPath: tmp.path(name), withIntermediateDirectories: true) }
        let recipe = ["--arch", "swin_mini", "--out-dim", "256", "--hidden-dim", "64", "--bottleneck-dim", "32", "--local-crops-number", "2",
                      "--log-every", "1", "--saveckp-iters", "0", "--threads", "1", "--max-iters", "3", "--iterations", "30", "--lr", "0.05",
                      "--warmup-fraction", "0.1", "--warmup-teacher-temp-fraction", "0.2", "--freeze-last-layer-fraction", "0.05"]
        let (c1, o1) = try Harness.single(recipe + ["--batch-size-per-rank", "8", "--output-dir", tmp.path("one")], env: ["ESVIT_DUMP_GRADIENTS": tmp.path("g-one")])
        XCTAssertEqual(c1, 0, o1)
        XCTAssertTrue(o1.contains("warmup 3 iterations") && o1.contains("over 6 iterations") && o1.contains("last layer frozen 2 iteration(s)"), o1)
        let (c2, o2) = try Harness.ranks(2, recipe + ["--batch-size-per-rank", "4", "--output-dir", tmp.path("two")], env: ["ESVIT_DUMP_GRADIENTS": tmp.path("g-two")])
        XCTAssertEqual(c2, 0, o2)
        assertLossesClose(try Harness.losses(tmp.path("two")), try Harness.losses(tmp.path("one")), iterations: 1...3, rel: 1e-5, "recipe schedules")
        let t1 = try Harness.tensors(tmp.path("one/checkpoint.safetensors")), t2 = try Harness.tensors(tmp.path("two/checkpoint.safetensors"))
        XCTAssertEqual(Set(t2.keys), Set(t1.keys), "both checkpoints hold the same tensors")
        // The student moved: its distance from the teacher (an EMA that keeps ≥ 99.6 % of the
        // initial weights over 3 steps) is the distance travelled, up to 0.4 %.
        var moved: [Float] = []
        for (k, v) in t1 where k.hasPrefix("student.") {
            let t = try XCTUnwrap(t1["teacher." + k.dropFirst("student.".count)], k)
            for i in 0..<v.count { moved.append(abs(v[i] - t[i])) }
        }
        moved.sort()
        let median = moved[moved.count / 2]
        print("recipe schedules: student weights moved by a median of \(median), at most \(moved.last!), over 3 steps")
        XCTAssertGreaterThan(median, 1e-4, "the student must move (Adam steps of about lr = 7.8e-4 then 1.6e-3) before the runs are compared")
        let lrs = try (1...3).map { it in try XCTUnwrap(try BudgetRunTests.logRows(tmp.path("one")).first { $0["iteration"] as? Int == it }?["lr"] as? Double) }
        XCTAssertEqual(lrs[0], 0); XCTAssertGreaterThan(lrs[2], lrs[1])
        let grads = try (0..<3).map { try Harness.tensors(tmp.path("g-two/grads\($0).safetensors")) }
        let refGrads = try (0..<3).map { try Harness.tensors(tmp.path("g-one/grads\($0).safetensors")) }
        for step in 0..<2 {   // lr 0 at step 1: steps 1 and 2 start from the same weights in both runs
            XCTAssertLessThanOrEqual(gradientDifference(grads[step], refGrads[step]), DataParallelTests.gradientTolerance, "averaged gradient of step \(step + 1)")
        }
        let bounds = AdamBound(lrs: lrs, clip: 3, momentum: 0.996, steps: grads, reference: refGrads) { key, step in key.contains("last_layer") && step < 2 }
        assertWithinBounds(t2, t1, bounds, "recipe schedules")
        let d = Harness.maxDifference(t2, t1, prefixes: ["optimizer.", "loss."])
        XCTAssertLessThanOrEqual(d, 1e-5, "AdamW moments and centers after 3 recipe steps")
        print("recipe schedules, 2 ranks × 4 vs 1 rank × 8 after 3 steps: AdamW moments and centers within \(d)")
    }

    func testSameSeedAndWorldSizeGiveIdenticalRuns() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-det")
        for name in ["a", "b"] {
            let (c, o) = try Harness.ranks(2, Harness.tiny + ["--batch-size-per-rank", "4", "--max-iters", "3", "--output-dir", tmp.path(name)])
            XCTAssertEqual(c, 0, o)
        }
        XCTAssertEqual(try Harness.losses(tmp.path("a")), try Harness.losses(tmp.path("b")))
        let ta = try Harness.tensors(tmp.path("a/checkpoint.safetensors")), tb = try Harness.tensors(tmp.path("b/checkpoint.safetensors"))
        XCTAssertEqual(Set(ta.keys), Set(tb.keys), "both checkpoints hold the same tensors")
        XCTAssertEqual(Harness.maxDifference(ta, tb, prefixes: every), 0)
        // A different seed is a different run.
        let (c, o) = try Harness.ranks(2, Harness.tiny + ["--batch-size-per-rank", "4", "--max-iters", "3", "--seed", "1", "--output-dir", tmp.path("c")])
        XCTAssertEqual(c, 0, o)
        XCTAssertNotEqual(try Harness.losses(tmp.path("a"))[1], try Harness.losses(tmp.path("c"))[1])
    }

    func testResumeContinuesExactlyAlsoOnAnotherNumberOfRanks() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-resume")
        let run2 = Harness.tiny + ["--batch-size-per-rank", "4"]
        for name in ["g-straight", "g-other"] { try FileManager.default.createDirectory(atPath: tmp.path(name), withIntermediateDirectories: true) }
        var (c, o) = try Harness.ranks(2, run2 + ["--max-iters", "6", "--output-dir", tmp.path("straight")],
                                       env: ["ESVIT_DUMP_GRADIENTS": tmp.path("g-straight")])
        XCTAssertEqual(c, 0, o)
        (c, o) = try Harness.ranks(2, run2 + ["--max-iters", "3", "--output-dir", tmp.path("split")])
        XCTAssertEqual(c, 0, o)
        try FileManager.default.copyItem(atPath: tmp.path("split"), toPath: tmp.path("other"))
        (c, o) = try Harness.ranks(2, run2 + ["--max-iters", "6", "--output-dir", tmp.path("split")])
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("resuming from") && o.contains("iteration 3"), o)
        let straight = try Harness.losses(tmp.path("straight")), split = try Harness.losses(tmp.path("split"))
        for it in 1...6 { XCTAssertEqual(split[it], straight[it], "iteration \(it) after resume") }
        // TensorBoard: one file per start, the step axis continued, each step once, the values log.txt's.
        let board = try TensorBoardTests.scalars(tmp.path("split")).filter { $0.tag == "loss/total" }
        XCTAssertEqual(board.map(\.step), (1...6).map(Int64.init))
        XCTAssertEqual(board.map(\.file), [0, 0, 0, 1, 1, 1])
        XCTAssertEqual(board.map(\.value), (1...6).map { Float(straight[$0] ?? .nan) })
        let ts = try Harness.tensors(tmp.path("straight/checkpoint.safetensors"))
        XCTAssertEqual(Harness.maxDifference(try Harness.tensors(tmp.path("split/checkpoint.safetensors")), ts, prefixes: every), 0,
                       "3 + resume + 3 must equal 6 steps bit for bit")
        // The second half on 1 rank with the whole batch: same samples, same schedule.
        (c, o) = try Harness.single(Harness.tiny + ["--batch-size-per-rank", "8", "--max-iters", "6", "--output-dir", tmp.path("other")],
                                    env: ["ESVIT_DUMP_GRADIENTS": tmp.path("g-other")])
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("resuming with 1 rank(s); the checkpoint was written by 2"), o)
        // The checkpoint's run configuration (pretrain_config, read from the file the state was loaded from) is compared.
        XCTAssertTrue(o.contains("note: --batch-size-per-rank was 4 in the checkpoint's run, now 8"), o)
        assertLossesClose(try Harness.losses(tmp.path("other")), straight, iterations: 4...6, rel: 1e-5, "resumed on 1 rank")
        let other = try Harness.tensors(tmp.path("other/checkpoint.safetensors"))
        let d = Harness.maxDifference(other, ts, prefixes: ["loss."])
        XCTAssertLessThanOrEqual(d, 1e-5, "centers")
        // Steps 1–3 are the same run (the checkpoint); steps 4–6 summed in another order: each
        // weight within its Adam bound from both runs' gradients, as in the first test.
        let ref = try (0..<6).map { try Harness.tensors(tmp.path("g-straight/grads\($0).safetensors")) }
        let mine = try Array(ref[0..<3]) + (3..<6).map { try Harness.tensors(tmp.path("g-other/grads\($0).safetensors")) }
        assertWithinBounds(other, ts, AdamBound(lr: 0.05 * 8 / 256, clip: 3, momentum: 0.996, steps: mine, reference: ref), "resumed on 1 rank")
        // Nothing left to do is said, not an error.
        (c, o) = try Harness.single(Harness.tiny + ["--batch-size-per-rank", "8", "--max-iters", "6", "--output-dir", tmp.path("other")])
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("nothing to do"), o)
    }
}

/// How far two runs of clipping + AdamW can move each weight apart over the given steps, given
/// both runs' gradients (see DataParallelTests).
struct AdamBound {
    struct Weights { var student: [Double], teacher: [Double], quiet: [Bool] }
    var perWeight: [String: Weights] = [:]
    /// Student weights whose bound took the cap (2·rMax·lr, a step of either sign) in some step;
    /// those of them capped in a step before which their reference gradient had never been within
    /// `gradientTolerance` of zero relative to its tensor's largest element (must be none: the cap
    /// is only legitimate once a gradient has been zero up to float error); all such quiet
    /// weights; the largest student bound.
    var capped = 0, cappedLoud = 0, quietWeights = 0, largest = 0.0

    /// DINO's per-tensor clip: the gradient scaled by min(1, clip / (‖g‖ + 1e-6)), in Double.
    static func clipped(_ g: [Float], _ clip: Double) -> [Double] {
        let norm = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let c = min(1, clip / (norm + 1e-6))
        return g.map { c * Double($0) }
    }

    init(lr: Double, clip: Double, momentum: Double, steps: [[String: [Float]]], reference: [[String: [Float]]]) {
        self.init(lrs: Array(repeating: lr, count: reference.count), clip: clip, momentum: momentum, steps: steps, reference: reference)
    }

    /// `lrs`: the learning rate of each step (a warmup, a cosine); `frozen(key, step)`: the
    /// optimizer skipped that tensor in that step (the last-layer freeze: no update, no moments,
    /// no step count), so its gradient then counts for nothing.
    init(lrs: [Double], clip: Double, momentum: Double, steps: [[String: [Float]]], reference: [[String: [Float]]],
         frozen: (String, Int) -> Bool = { _, _ in false }) {
        for k in reference[0].keys {
            let r = AdamBound.tensor(k, lrs: lrs, clip: clip, momentum: momentum, steps: steps, reference: reference, frozen: frozen)
            perWeight[k] = r.weights
            capped += r.capped; cappedLoud += r.loud; quietWeights += r.weights.quiet.filter { $0 }.count
            largest = max(largest, r.weights.student.max() ?? 0)
        }
    }

    /// |m̂/√v̂| ≤ rMax after `t` Adam steps, by Cauchy–Schwarz on Adam's normalised weights a_s
    /// (mean) and b_s (square): rMax² = Σ a_s² / b_s (1.0036 after 3 steps, 1.016 after 6).
    static func rMax(steps t: Int, beta1: Double, beta2: Double) -> Double {
        let bc1 = 1 - pow(beta1, Double(t)), bc2 = 1 - pow(beta2, Double(t))
        return (1...t).reduce(0.0) { acc, s in
            let a = (1 - beta1) * pow(beta1, Double(t - s)) / bc1, b = (1 - beta2) * pow(beta2, Double(t - s)) / bc2
            return acc + a * a / b
        }.squareRoot()
    }

    /// One tensor's bounds: with D the largest difference of its clipped gradients so far, one
    /// Adam step differs by at most lr · min(2·rMax, (1 + |r|)·D / (√v̂ − D)); equal gradients so
    /// far (D = 0) give equal updates.
    static func tensor(_ k: String, lrs: [Double], clip: Double, momentum: Double, steps: [[String: [Float]]], reference: [[String: [Float]]],
                       frozen: (String, Int) -> Bool, beta1: Double = 0.9, beta2: Double = 0.999) -> (weights: Weights, capped: Int, loud: Int) {
        let n = reference[0][k]!.count
        var m = [Double](repeating: 0, count: n), v = m, student = m, teacher = m, d = m
        var wasCapped = [Bool](repeating: false, count: n), quiet = wasCapped, loud = wasCapped
        var taken = 0
        for t in 0..<reference.count {
            guard !frozen(k, t) else { for i in 0..<n { teacher[i] += (1 - momentum) * student[i] }; continue }
            taken += 1
            let g = clipped(reference[t][k]!, clip), h = clipped(steps[t][k] ?? [], clip)
            let scale = g.map(abs).max() ?? 0
            for i in 0..<n where abs(g[i]) <= Double(DataParallelTests.gradientTolerance) * scale { quiet[i] = true }
            let bc1 = 1 - pow(beta1, Double(taken)), bc2 = 1 - pow(beta2, Double(taken))
            let cap = 2 * rMax(steps: taken, beta1: beta1, beta2: beta2) * (1 + 1e-9)
            for i in 0..<n {
                let gi = g[i]
                d[i] = max(d[i], i < h.count ? abs(h[i] - gi) : .infinity)
                m[i] = beta1 * m[i] + (1 - beta1) * gi; v[i] = beta2 * v[i] + (1 - beta2) * gi * gi
                let rms = (v[i] / bc2).squareRoot(), r = abs(m[i] / bc1) / max(rms, 1e-30)
                let bound = d[i] == 0 ? 0 : rms > d[i] ? min(cap, (1 + r) * d[i] / (rms - d[i])) : cap
                if bound >= cap { wasCapped[i] = true; if !quiet[i] { loud[i] = true } }
                student[i] += lrs[t] * bound
                teacher[i] += (1 - momentum) * student[i]
            }
        }
        return (Weights(student: student, teacher: teacher, quiet: quiet), wasCapped.filter { $0 }.count, loud.filter { $0 }.count)
    }
}

/// The bound's own rules on made-up gradients (no training run): a weight whose gradient is zero
/// up to float error may take the cap; a weight with a real gradient whose sign differs between
/// the runs is caught; a frozen step's gradients count for nothing.
final class AdamBoundTests: XCTestCase {
    func testOnlyQuietWeightsMayTakeTheCapAndFrozenStepsCountForNothing() {
        // Weights: two with real gradients, one zero up to rounding (1e-9 of the tensor's largest).
        let ref: [[String: [Float]]] = (0..<3).map { _ in ["w": [1, -0.5, 1e-9]] }
        func run(_ other: [Float], from step: Int = 1) -> AdamBound {
            let steps = (0..<3).map { t in t >= step ? ["w": other] : ref[t] }
            return AdamBound(lr: 1e-3, clip: 3, momentum: 0.996, steps: steps, reference: ref)
        }
        let noise = run([1, -0.5, -1e-9])                               // the quiet weight's sign differs: legitimate
        XCTAssertEqual(noise.capped, 1); XCTAssertEqual(noise.cappedLoud, 0)
        XCTAssertLessThan(noise.perWeight["w"]!.student[0], 1e-12, "equal gradients, equal updates")
        let fault = run([1, 0.5, 1e-9])                                 // a real gradient's sign differs from step 2 on: caught
        XCTAssertEqual(fault.cappedLoud, 1)
        XCTAssertEqual(fault.largest, 1e-3 * (2 * AdamBound.rMax(steps: 2, beta1: 0.9, beta2: 0.999) + 2 * AdamBound.rMax(steps: 3, beta1: 0.9, beta2: 0.999)) * (1 + 1e-9),
                       accuracy: 1e-15)
        // Frozen in steps 0 and 1 (different gradients there), equal in step 2: no difference at all.
        let frozenSteps = (0..<3).map { t in t < 2 ? ["w": [Float(-3), 7, 1]] : ref[t] }
        let frozen = AdamBound(lrs: [1e-3, 1e-3, 1e-3], clip: 3, momentum: 0.996, steps: frozenSteps, reference: ref, frozen: { _, t in t < 2 })
        XCTAssertEqual(frozen.perWeight["w"]!.student, [0, 0, 0])
    }
}
