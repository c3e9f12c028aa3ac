// The data-parallel trainer is the single-process trainer with the batch split: 2 ranks × B/2
// match 1 rank × B (the averaged step-1 gradient, the losses of 3 steps, teacher and centers
// after them within 1e-5; the student too, up to Adam's sign noise on zero gradients, see the
// test), and so does gradient accumulation (1 rank × B/2 × 2 micro-batches); the same seed and world size give
// bit-identical runs; 6 uninterrupted steps equal 3 + checkpoint + resume + 3 (bitwise with
// the same layout, within 1e-5 when the resumed half runs on another number of ranks).
import ESTestSupport
import Foundation
import XCTest

final class DataParallelTests: XCTestCase {
    override func setUpWithError() throws {
        guard Harness.haveData else { throw XCTSkip("dataset-fashion-mnist is not installed (launch/setup.sh installs it)") }
        guard TestProcess.mpirun != nil else { throw XCTSkip("mpirun not found (launch/setup.sh installs openmpi-bin)") }
    }

    let every = ["student.", "teacher.", "loss.", "optimizer."]

    func assertClose(_ a: [Int: Double], _ b: [Int: Double], iterations: ClosedRange<Int>, rel: Double, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        for it in iterations {
            guard let x = a[it], let y = b[it] else { return XCTFail("\(what): iteration \(it) missing (\(a.keys.sorted()), \(b.keys.sorted()))", file: file, line: line) }
            XCTAssertLessThanOrEqual(abs(x - y) / abs(y), rel, "\(what): loss at iteration \(it): \(x) vs \(y)", file: file, line: line)
        }
    }

    /// Largest per-tensor relative difference max|a − b| / max|b| over two gradient dumps.
    func gradientDifference(_ a: String, _ b: String) throws -> Float {
        let x = try Harness.tensors(a), y = try Harness.tensors(b)
        XCTAssertEqual(Set(x.keys), Set(y.keys))
        var worst: Float = 0
        for (k, g) in y {
            guard let h = x[k] else { return .infinity }
            let scale = max(g.map(abs).max() ?? 0, 1e-30)
            for i in 0..<g.count { worst = max(worst, abs(h[i] - g[i]) / scale) }
        }
        return worst
    }

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
        let peakLR: Float = 0.05 * 8 / 256
        for name in ["two", "acc"] {
            // The identity itself: the averaged gradient of step 1 (same parameters everywhere).
            let g = try gradientDifference(tmp.path("g-\(name)/grads0.safetensors"), tmp.path("g-one/grads0.safetensors"))
            XCTAssertLessThanOrEqual(g, 1e-5, "\(name): averaged gradient of step 1 differs from 1 rank × 8 (relative to each tensor's scale)")
            assertClose(try Harness.losses(tmp.path(name)), l1, iterations: 1...3, rel: 1e-5, name)
            let t = try Harness.tensors(tmp.path("\(name)/checkpoint.safetensors"))
            XCTAssertEqual(Set(t.keys), Set(t1.keys))
            let d = Harness.maxDifference(t, t1, prefixes: ["teacher.", "loss."])
            XCTAssertLessThanOrEqual(d, 1e-5, "\(name): teacher and centers after 3 steps differ from 1 rank × 8 by \(d)")
            // The student after 3 steps: within 1e-5 everywhere except where Adam turned rounding
            // noise into a step. A gradient element that is zero up to rounding (dead GELU units)
            // gets an update of ±lr whose sign is that noise, in any data-parallel implementation;
            // such elements must stay rare (≤ 1 in 10⁵) and within the 2·Σlr such steps can cause.
            var off = 0, total = 0, worst: Float = 0
            for (k, x) in t where k.hasPrefix("student.") {
                let y = t1[k]!
                total += x.count
                for i in 0..<x.count { let e = abs(x[i] - y[i]); worst = max(worst, e); if e > 1e-5 { off += 1 } }
            }
            XCTAssertLessThanOrEqual(off * 100_000, total, "\(name): \(off) of \(total) student weights differ by more than 1e-5")
            XCTAssertLessThanOrEqual(worst, 2 * 3 * peakLR, "\(name): a student weight differs by \(worst)")
            print("\(name) vs 1 rank × 8: step-1 gradient rel. diff \(g), teacher/centers max diff \(d), student: \(off) of \(total) weights beyond 1e-5 (max \(worst))")
        }
        // The weights did move (student ≠ its EMA teacher), so the comparison means something.
        var moved: Float = 0
        for (k, v) in t1 where k.hasPrefix("student.") {
            let t = t1["teacher." + k.dropFirst("student.".count)]!
            for i in 0..<v.count { moved = max(moved, abs(v[i] - t[i])) }
        }
        XCTAssertGreaterThan(moved, 1e-4, "the student never left the teacher")
    }

    /// The same comparison under the recipe's own schedule (docs/algorithm.md §5.1 defaults: lr warmup from 0
    /// over 10 epochs, teacher-temperature warmup, last layer frozen in epoch 0): every tensor of
    /// the checkpoint, the student included, within 1e-5 after 3 steps.
    func testTwoRanksMatchOneRankUnderTheRecipeSchedule() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-dp-recipe")
        let recipe = ["--arch", "swin_mini", "--out-dim", "256", "--hidden-dim", "64", "--bottleneck-dim", "32", "--local-crops-number", "2",
                      "--log-every", "1", "--saveckp-iters", "0", "--threads", "1", "--max-iters", "3"]
        let (c1, o1) = try Harness.single(recipe + ["--batch-size-per-rank", "8", "--output-dir", tmp.path("one")])
        XCTAssertEqual(c1, 0, o1)
        XCTAssertTrue(o1.contains("warmup 10 epochs") && o1.contains("over 30 epochs") && o1.contains("frozen 1 epoch"), o1)
        let (c2, o2) = try Harness.ranks(2, recipe + ["--batch-size-per-rank", "4", "--output-dir", tmp.path("two")])
        XCTAssertEqual(c2, 0, o2)
        assertClose(try Harness.losses(tmp.path("two")), try Harness.losses(tmp.path("one")), iterations: 1...3, rel: 1e-5, "recipe schedule")
        let d = Harness.maxDifference(try Harness.tensors(tmp.path("two/checkpoint.safetensors")),
                                      try Harness.tensors(tmp.path("one/checkpoint.safetensors")), prefixes: every)
        XCTAssertLessThanOrEqual(d, 1e-5, "every tensor (student, teacher, AdamW moments, centers) after 3 recipe steps")
        print("recipe schedule, 2 ranks × 4 vs 1 rank × 8 after 3 steps: max difference over every checkpoint tensor \(d)")
    }

    func testSameSeedAndWorldSizeGiveIdenticalRuns() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-det")
        for name in ["a", "b"] {
            let (c, o) = try Harness.ranks(2, Harness.tiny + ["--batch-size-per-rank", "4", "--max-iters", "3", "--output-dir", tmp.path(name)])
            XCTAssertEqual(c, 0, o)
        }
        XCTAssertEqual(try Harness.losses(tmp.path("a")), try Harness.losses(tmp.path("b")))
        XCTAssertEqual(Harness.maxDifference(try Harness.tensors(tmp.path("a/checkpoint.safetensors")),
                                             try Harness.tensors(tmp.path("b/checkpoint.safetensors")), prefixes: every), 0)
        // A different seed is a different run.
        let (c, o) = try Harness.ranks(2, Harness.tiny + ["--batch-size-per-rank", "4", "--max-iters", "3", "--seed", "1", "--output-dir", tmp.path("c")])
        XCTAssertEqual(c, 0, o)
        XCTAssertNotEqual(try Harness.losses(tmp.path("a"))[1], try Harness.losses(tmp.path("c"))[1])
    }

    func testResumeContinuesExactlyAlsoOnAnotherNumberOfRanks() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-resume")
        let run2 = Harness.tiny + ["--batch-size-per-rank", "4"]
        var (c, o) = try Harness.ranks(2, run2 + ["--max-iters", "6", "--output-dir", tmp.path("straight")])
        XCTAssertEqual(c, 0, o)
        (c, o) = try Harness.ranks(2, run2 + ["--max-iters", "3", "--output-dir", tmp.path("split")])
        XCTAssertEqual(c, 0, o)
        try FileManager.default.copyItem(atPath: tmp.path("split"), toPath: tmp.path("other"))
        (c, o) = try Harness.ranks(2, run2 + ["--max-iters", "6", "--output-dir", tmp.path("split")])
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("resuming from") && o.contains("iteration 3"), o)
        let straight = try Harness.losses(tmp.path("straight")), split = try Harness.losses(tmp.path("split"))
        for it in 1...6 { XCTAssertEqual(split[it], straight[it], "iteration \(it) after resume") }
        let ts = try Harness.tensors(tmp.path("straight/checkpoint.safetensors"))
        XCTAssertEqual(Harness.maxDifference(try Harness.tensors(tmp.path("split/checkpoint.safetensors")), ts, prefixes: every), 0,
                       "3 + resume + 3 must equal 6 steps bit for bit")
        // The second half on 1 rank with the whole batch: same samples, same schedule.
        (c, o) = try Harness.single(Harness.tiny + ["--batch-size-per-rank", "8", "--max-iters", "6", "--output-dir", tmp.path("other")])
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("resuming with 1 rank(s); the checkpoint was written by 2"), o)
        assertClose(try Harness.losses(tmp.path("other")), straight, iterations: 4...6, rel: 1e-5, "resumed on 1 rank")
        let d = Harness.maxDifference(try Harness.tensors(tmp.path("other/checkpoint.safetensors")), ts, prefixes: ["student.", "teacher.", "loss."])
        XCTAssertLessThanOrEqual(d, 1e-5)
        // Nothing left to do is said, not an error.
        (c, o) = try Harness.single(Harness.tiny + ["--batch-size-per-rank", "8", "--max-iters", "6", "--output-dir", tmp.path("other")])
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("nothing to do"), o)
    }
}
