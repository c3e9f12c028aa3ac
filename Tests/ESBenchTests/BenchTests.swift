// The benchmarks' rules without timing anything real: the median and µs-per-call rules on an
// injected clock, the PyTorch peer protocol on a stand-in script, a tiny Swin and step bench
// that report finite figures, the pretraining bench on a stand-in launcher, and settings refused
// with the flag's name.
import ESBench
import ESKernels
import ESModel
import ESTestSupport
import Foundation
import XCTest

/// A clock that only moves when a body says so.
final class ScriptedClock {
    var now: UInt64 = 0
    var clock: Nanoseconds { { [unowned self] in self.now } }
}

final class BenchTests: XCTestCase {
    var tmp: TemporaryDirectory!
    override func setUpWithError() throws { tmp = try TemporaryDirectory(prefix: "esvit-bench") }
    override func tearDown() { tmp = nil }

    func testMedianOfTimedRunsIgnoresTheWarmUp() {
        let c = ScriptedClock()
        var durations: [UInt64] = [900_000_000, 5_000_000, 1_000_000, 3_000_000]   // warm-up, then three timed runs
        let s = Measure.medianSeconds(iters: 3, clock: c.clock) { c.now += durations.removeFirst() }
        XCTAssertEqual(s, 3e-3)
        XCTAssertTrue(durations.isEmpty)
    }

    func testMicrosecondsPerCallDoublesRepetitionsUntilARunIsLongEnough() {
        let c = ScriptedClock()
        var calls = 0
        // 1 µs per call; a run must last 10 µs, so 16 calls per run (1, 2, 4, 8 are too short).
        let us = Measure.microsecondsPerCall(samples: 3, minMs: 0.01, clock: c.clock) { c.now += 1000; calls += 1 }
        XCTAssertEqual(us, 1.0)
        XCTAssertEqual(calls, 1 + (1 + 2 + 4 + 8 + 16) + 3 * 16)
    }

    func testThePeerProtocol() throws {
        let good = tmp.path("good.sh"), bad = tmp.path("bad.sh")
        try "echo progress line\necho \"{\\\"img_s\\\": 12.5, \\\"threads\\\": $OMP_NUM_THREADS, \\\"arg\\\": \\\"$1\\\", \\\"versions\\\": \\\"torch 0\\\"}\"\n"
            .write(toFile: good, atomically: true, encoding: .utf8)
        try "echo '{\"img_s\": 1}'\nexit 3\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let peer = TorchPeer(python: "/bin/sh", script: good, threads: 3)
        let (v, versions) = try peer.figures(["--x"], ["img_s", "threads"])
        XCTAssertEqual(v, [12.5, 3])
        XCTAssertEqual(versions, "torch 0")
        XCTAssertEqual(try peer.run(["--x"])["arg"] as? String, "--x")
        XCTAssertThrowsError(try peer.figures([], ["train_img_s"])) { XCTAssertTrue("\($0)".contains("printed no train_img_s"), "\($0)") }
        XCTAssertThrowsError(try TorchPeer(python: "/bin/sh", script: bad, threads: 1).run([])) {
            XCTAssertTrue("\($0)".contains("failed; run it by hand to see why"), "\($0)")
        }
        XCTAssertThrowsError(try TorchPeer(python: tmp.path("no-python"), script: good, threads: 1).run([])) {
            XCTAssertTrue("\($0)".contains("cannot start"), "\($0)")
        }
    }

    func testThePeerLauncherGoesBeforeTheScript() throws {
        let script = tmp.path("peer.sh")
        try "echo \"{\\\"img_s\\\": 2, \\\"first\\\": \\\"$1\\\"}\"\n".write(toFile: script, atomically: true, encoding: .utf8)
        // /usr/bin/env sh peer.sh --y: the launcher ("sh") runs the script.
        let peer = TorchPeer(python: "/usr/bin/env", script: script, threads: 1, launcher: ["sh"])
        XCTAssertEqual(try peer.run(["--y"])["first"] as? String, "--y")
    }

    /// A stand-in for launch/run-node.sh: writes a log.txt of progress lines (and one other line)
    /// into the --output-dir it is given, or fails after printing a line.
    func standInLauncher(rates: [Double], fail: Bool = false) throws -> String {
        let path = tmp.path(fail ? "fail.sh" : "launch.sh")
        let lines = rates.enumerated().map { "{\"iteration\": \(10 * ($0.offset + 1)), \"img_per_s\": \($0.element)}" }
            + ["{\"epoch\": 0, \"train_loss\": 1}"]
        let body = fail ? "echo 'run-node: mpirun not found'\nexit 7\n"
            : "while [ \"$1\" != --output-dir ]; do shift; done\ncat > \"$2/log.txt\" <<'EOF'\n" + lines.joined(separator: "\n") + "\nEOF\n"
        try ("#!/bin/sh\n" + body).write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    func testPretrainBenchReadsTheRunsLog() throws {
        // The first window (warm-up) is left out: median of 120, 100, 110 is 110.
        let launcher = try standInLauncher(rates: [20, 120, 100, 110])
        var lines: [String] = []
        let b = try PretrainBench(ranks: 2, iterations: 40, preset: "fm-quick", launcher: launcher)
        XCTAssertEqual(try b.run(say: { lines.append($0) }).imagesPerSecond, 110)
        XCTAssertTrue(lines.contains { $0.contains("pretrain --preset fm-quick --iterations 40") }, "\(lines)")
        XCTAssertEqual(b.config.backbone.patchSize, 4, "the preset's recipe")
        XCTAssertEqual(b.launches.map(\.description), ["1 process(es), 0 loader worker(s)", "1 process(es), 1 loader worker(s)",
                                                        "2 process(es), 0 loader worker(s)", "2 process(es), 1 loader worker(s)"])
        XCTAssertThrowsError(try PretrainBench(ranks: 2, iterations: 40, preset: "fm-quick",
                                               launcher: try standInLauncher(rates: [1])).run(say: { _ in })) {
            XCTAssertTrue("\($0)".contains("has 1 progress line(s)"), "\($0)")
        }
        XCTAssertThrowsError(try PretrainBench(ranks: 2, iterations: 40, preset: "fm-quick",
                                               launcher: try standInLauncher(rates: [], fail: true)).run(say: { _ in })) {
            XCTAssertTrue("\($0)".contains("failed (exit 7)") && "\($0)".contains("mpirun not found"), "\($0)")
        }
    }

    func testPretrainBenchComparesAgainstTheFastestLaunchInRounds() throws {
        // A stand-in peer whose n-th run reports 40 + 10n img/s and the workers it was given.
        let peer = tmp.path("peer.sh"), count = tmp.path("count")
        try """
        echo x >> \(count); n=$(wc -l < \(count))
        while [ "$1" != --workers ]; do shift; done
        echo "{\\"img_s\\": $((40 + 10 * n)), \\"versions\\": \\"workers $2\\"}"

        """.write(toFile: peer, atomically: true, encoding: .utf8)
        let b = try PretrainBench(ranks: 1, iterations: 40, preset: "fm-quick", launcher: try standInLauncher(rates: [20, 120, 100, 110]))
        var lines: [String] = []
        // Launches: 1 process with 0 workers (50), with 1 worker (60, the fastest); then rounds 2 and 3 run it again (70, 80).
        let ratios = try b.compare(PretrainBench.Throughput(imagesPerSecond: 110), rounds: 3, python: "/bin/sh", script: peer, say: { lines.append($0) })
        XCTAssertEqual(ratios, [110.0 / 60, 110.0 / 70, 110.0 / 80])
        XCTAssertTrue(lines.contains("  PyTorch reference, 1 process(es), 1 loader worker(s): 60.0 img/s [workers 1]"), "\(lines)")
        XCTAssertTrue(lines.contains { $0.contains("round 3: esvit 110.0 img/s, PyTorch reference (1 process(es), 1 loader worker(s)) 80.0 img/s") }, "\(lines)")
        XCTAssertEqual(lines.last, "  ratio over 3 rounds: median 1.57× (1.83, 1.57, 1.38)")
    }

    /// The official code's harness as the peer, on a stand-in that writes the harness's log.txt
    /// (per-iteration step_s): its rate is taken as esvit's (median of 10-iteration windows after
    /// the first), its options carry the recipe, and its memory is sampled.
    func testPretrainBenchTimesTheOfficialCodeFromItsStepTimes() throws {
        let script = tmp.path("run_official.sh"), args = tmp.path("args")
        // 30 iterations: a slow first window (1 s per step), then 0.5 and 0.4 s: windows of 32 images · 10 / Σ (1 rank × 32).
        let body = ["echo \"$@\" > \(args)", "while [ \"$1\" != --output-dir ]; do shift; done", "mkdir -p \"$2\"",
                    "for i in $(seq 1 10); do echo '{\"step_s\": 1.0}'; done > \"$2/log.txt\"",
                    "for i in $(seq 11 20); do echo '{\"step_s\": 0.5}'; done >> \"$2/log.txt\"",
                    "for i in $(seq 21 30); do echo '{\"step_s\": 0.4}'; done >> \"$2/log.txt\""]
        try (body.joined(separator: "\n") + "\n").write(toFile: script, atomically: true, encoding: .utf8)
        let b = try PretrainBench(ranks: 1, iterations: 30, preset: "fm-quick", launcher: try standInLauncher(rates: [20, 120, 100, 110]))
        let o = PretrainBench.Official(repo: "/nowhere/esvit", python: "/bin/sh", script: script)
        let (t, note) = try b.officialPeer(b.launches[1], o)
        XCTAssertEqual(t.imagesPerSecond, 32 * 10 / 4.0, accuracy: 1e-9, "windows 64 and 80 img/s after the first: the median of two is the upper")
        XCTAssertGreaterThan(t.memory?.total ?? 0, 0)
        XCTAssertEqual(note, "official EsViT from /nowhere/esvit")
        let given = try String(contentsOfFile: args, encoding: .utf8)
        for part in ["--esvit-repo /nowhere/esvit", "--iterations 30", "--batch-size 32", "--threads 1", "--num-workers 1", "--global-size 32",
                     "--local-size 16", "--local-crops-number 2", "--out-dim 4096", "--hidden-dim 512", "--bottleneck-dim 128",
                     "--use-dense-prediction true", "--blur-sigma 0.1 0.5", "MODEL.SPEC.PATCH_SIZE 4", "MODEL.SPEC.DEPTHS [2,2,2]"] {
            XCTAssertTrue(given.contains(part), "\(part) not in: \(given)")
        }
        var lines: [String] = []
        let ratios = try b.compare(PretrainBench.Throughput(imagesPerSecond: 320, memory: (100 << 20, 200 << 20)), name: "official EsViT",
                                   peer: { try b.officialPeer($0, o) }, say: { lines.append($0) })
        XCTAssertEqual(ratios.map { ($0 * 1e9).rounded() / 1e9 }, [4])
        XCTAssertTrue(lines.last!.hasPrefix("  ratio esvit/official EsViT at its best launch (1 process(es), 0 loader worker(s)): 4.00× the images/s, "), "\(lines)")
        XCTAssertTrue(lines.last!.contains("× the peak RSS of all processes"), "\(lines)")
    }

    func testPretrainBenchRefusesBadSettings() {
        for (ranks, iters, preset, flag) in [(0, 60, "fm-quick", "--ranks"), (2, 20, "fm-quick", "--iterations"), (2, 60, "fm-slow", "--preset fm-slow")] {
            XCTAssertThrowsError(try PretrainBench(ranks: ranks, iterations: iters, preset: preset, launcher: "x")) {
                XCTAssertTrue("\($0)".hasPrefix(flag), "\($0)")
            }
        }
    }

    static let tiny = SwinConfig(patchSize: 4, inChans: 3, embedDim: 16, depths: [2, 2], numHeads: [1, 2], windowSize: 4,
                                 constructSize: 32, dropPathRate: 0)

    func testSwinBenchReportsFiniteFigures() throws {
        var lines: [String] = []
        let r = try SwinBench(config: Self.tiny, arch: "tiny", batch: 2, threads: 1, iters: 1).run(say: { lines.append($0) })
        for x in [r.forwardImagesPerSecond, r.trainImagesPerSecond, r.forwardGFLOPs, r.trainGFLOPs, r.roof] {
            XCTAssertTrue(x.isFinite && x > 0, "\(x)")
        }
        XCTAssertTrue(lines[0].hasPrefix("esvit bench swin: \(Machine.cpuModel)"), lines[0])
        XCTAssertTrue(lines.contains { $0.contains("forward+backward time split: ") }, "\(lines)")
        XCTAssertThrowsError(try SwinBench(config: Self.tiny, arch: "tiny", size: 30, batch: 2, threads: 1, iters: 1)) {
            XCTAssertEqual("\($0)", "--image-size 30 is not a multiple of the patch size 4")
        }
    }

    func testStepBenchRunsTheRecipe() throws {
        var lines: [String] = []
        let b = try StepBench(arch: .swinMini, backbone: Self.tiny, batch: 2, localCrops: 2, globalSize: 32, localSize: 16,
                              hidden: 32, bottleneck: 16, outDim: 64, regionLoss: true, threads: 1, iters: 1)
        XCTAssertEqual(b.config.head.outDim, 64)
        let r = try XCTUnwrap(try b.run(say: { lines.append($0) }))
        XCTAssertTrue(r.imagesPerSecond.isFinite && r.imagesPerSecond > 0)
        XCTAssertTrue(lines.contains { $0.hasPrefix("  step: ") }, "\(lines)")
        XCTAssertGreaterThan(r.peakRSSBytes, 1 << 20)
        XCTAssertTrue(lines.contains { $0.hasPrefix("  peak RSS of this process: ") }, "\(lines)")
        // The per-op split profiles the step for the roof bound: it counted linear layers, and
        // putting them at the roof can only remove time the step spent.
        let bound = try XCTUnwrap(r.bound)
        XCTAssertGreaterThan(bound.gemmFLOPs, 0)
        XCTAssertTrue(bound.gemmSeconds > 0 && bound.gemmSeconds < bound.stepSeconds, "\(bound)")
        XCTAssertGreaterThan(bound.speedupLinearOnly, bound.speedupAtRoof)
        XCTAssertTrue(lines.contains { $0.hasPrefix("  bound: every linear layer at the roof, the rest as measured: ") }, "\(lines)")
        XCTAssertNil(try b.run(memoryOnly: true, say: { _ in }))
        XCTAssertThrowsError(try StepBench(arch: .swinMini, backbone: Self.tiny, batch: 0, localCrops: nil, globalSize: nil, localSize: nil,
                                           hidden: nil, bottleneck: nil, outDim: nil, regionLoss: true, threads: 1, iters: 1))
    }

    func testStepBenchComparesInAlternatingRounds() throws {
        let peer = tmp.path("peer.sh"), count = tmp.path("count")
        try "echo x >> \(count)\necho '{\"step_img_s\": 4, \"peak_rss_kib\": 2048, \"versions\": \"stand-in\"}'\n"
            .write(toFile: peer, atomically: true, encoding: .utf8)
        let b = try StepBench(arch: .swinMini, backbone: Self.tiny, batch: 2, localCrops: 1, globalSize: 32, localSize: 16,
                              hidden: 16, bottleneck: 8, outDim: 16, regionLoss: true, threads: 1, iters: 1)
        let r = try XCTUnwrap(try b.run(say: { _ in }))
        var lines: [String] = []
        let ratios = try b.compare(r, with: TorchPeer(python: "/bin/sh", script: peer, threads: 1), rounds: 3, say: { lines.append($0) })
        XCTAssertEqual(ratios.count, 3)
        XCTAssertEqual(ratios[0], r.imagesPerSecond / 4)
        XCTAssertTrue(ratios.allSatisfy { $0.isFinite && $0 > 0 })
        XCTAssertEqual(try String(contentsOfFile: count, encoding: .utf8).split(separator: "\n").count, 3, "the peer ran once per round")
        XCTAssertTrue(lines.contains { $0.hasPrefix("  round 3: Swift ") }, "\(lines)")
        XCTAssertTrue(lines.dropLast().last?.hasPrefix("  ratio over 3 rounds: median ") == true, "\(lines)")
        // The bound against PyTorch is the median ratio times the bound's speed-ups.
        let m = ratios.sorted()[1], bound = try XCTUnwrap(r.bound)
        XCTAssertEqual(lines.last, String(format: "  bound against PyTorch (the median ratio × the bound): %.2f× with every linear layer at the roof "
                                          + "and the rest as measured, %.2f× with the rest free as well", m * bound.speedupAtRoof, m * bound.speedupLinearOnly))
    }

    func testRoofBoundArithmetic() {
        // 6 GFLOP in 0.06 s (100 GFLOP/s) of a 0.1 s step, roof 150: the products would take 0.04 s.
        let b = RoofBound(gemmFLOPs: 6e9, gemmSeconds: 0.06, stepSeconds: 0.1, roof: 150)
        XCTAssertEqual(b.gemmRate, 100, accuracy: 1e-9)
        XCTAssertEqual(b.atRoofSeconds, 0.08, accuracy: 1e-12)
        XCTAssertEqual(b.speedupAtRoof, 1.25, accuracy: 1e-12)
        XCTAssertEqual(b.speedupLinearOnly, 2.5, accuracy: 1e-12)
        XCTAssertEqual(b.lines(images: 8), [
            "  linear layers: 6.0 GFLOP per step at 100.0 GFLOP/s, 60% of the step's time; sgemm roof 150.0 GFLOP/s (they run at 67% of it)",
            "  bound: every linear layer at the roof, the rest as measured: 1.25× this step (100.0 img/s); the rest free as well: 2.50×"])
    }

    func testRoofBoundCountsTheLinearLayersPerPass() {
        // Per pass: one forward (2·M·K·N) and one backward with dx and dW (4·M·K·N) of known shape.
        let (M, K, N) = (64, 48, 96)
        let x = FloatBuffer(count: M * K), w = FloatBuffer(count: N * K), y = FloatBuffer(count: M * N)
        let dx = FloatBuffer(count: M * K), dw = FloatBuffer(count: N * K)
        for i in 0..<x.count { x[i] = Float(i % 7) * 0.1 }
        for i in 0..<w.count { w[i] = Float(i % 5) * 0.1 }
        var passes = 0
        let b = RoofBound.measure(passes: 3, threads: 1) {
            passes += 1
            Linear.forward(y: y.pointer, x: x.pointer, weight: w.pointer, bias: nil, rows: M, inFeatures: K, outFeatures: N)
            Linear.backward(dx: dx.pointer, dWeight: dw.pointer, dBias: nil, dy: y.pointer, x: x.pointer, weight: w.pointer,
                            rows: M, inFeatures: K, outFeatures: N)
        }
        XCTAssertEqual(passes, 3)
        XCTAssertEqual(b.gemmFLOPs, 6 * Double(M * K * N), "FLOPs per pass, not per measurement")
        XCTAssertTrue(b.gemmSeconds > 0 && b.gemmSeconds <= b.stepSeconds && b.roof > 0, "\(b)")
        XCTAssertFalse(Profiler.enabled, "the profiler is switched off after the passes")
    }

    func testStepBenchLeavesTheBoundOutWithTheBatchSplit() throws {
        var b = try StepBench(arch: .swinMini, backbone: Self.tiny, batch: 2, localCrops: 1, globalSize: 32, localSize: 16,
                              hidden: 16, bottleneck: 8, outDim: 16, regionLoss: true, threads: 2, iters: 1)
        b.batchSplit = true
        var lines: [String] = []
        XCTAssertNil(try XCTUnwrap(try b.run(say: { lines.append($0) })).bound)
        XCTAssertTrue(lines.contains { $0.hasPrefix("  bound: not measured with --batch-split") }, "\(lines)")
    }

    func testKernelBenchNamesTheKernelsItKnows() {
        XCTAssertThrowsError(try KernelBench(scale: 1, threads: 1, kernel: "conv", samples: 1, minMs: 1)) {
            XCTAssertTrue("\($0)".hasPrefix("--kernel conv: no such kernel (linear, "), "\($0)")
        }
    }
}
