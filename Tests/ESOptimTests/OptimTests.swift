// Schedules against the spec's check values (§9: ImageNet-1k, 16 GPUs × 32), AdamW against a
// Double transcription of torch.optim.AdamW (decoupled decay, bias correction, per-entry step
// counts), per-tensor clipping, last-layer freezing and the teacher EMA.
import XCTest
import ESKernels
import ESModel
@testable import ESOptim

final class ScheduleTests: XCTestCase {
    let ipe = iterationsPerEpoch(samples: 1_281_167, worldSize: 16, batchPerRank: 32)

    func testIterationsPerEpoch() {
        XCTAssertEqual(ipe, 2502)
        XCTAssertEqual(iterationsPerEpoch(samples: 1_281_167, worldSize: 16, batchPerRank: 64), 1251)
    }

    func testLearningRateCheckValues() {
        func lr(globalBatch: Int) -> CosineSchedule {
            CosineSchedule(base: 0.0005 * Double(globalBatch) / 256, final: 1e-6, epochs: 300, iterationsPerEpoch: ipe, warmupEpochs: 10)
        }
        let s = lr(globalBatch: 512)
        XCTAssertEqual(s.value(at: 0), 0)
        XCTAssertEqual(s.value(at: 10 * ipe - 1), 1e-3, accuracy: 1e-15)
        func epochMean(_ s: CosineSchedule, _ e: Int) -> Double { (0..<ipe).map { s.value(at: e * ipe + $0) }.reduce(0, +) / Double(ipe) }
        XCTAssertEqual(epochMean(s, 201), 2.5939e-4, accuracy: 5e-9)
        XCTAssertEqual(epochMean(lr(globalBatch: 1024), 201), 5.1804e-4, accuracy: 5e-9)
        XCTAssertGreaterThan(s.value(at: 300 * ipe - 1), 1e-6, "the last value is slightly above min_lr")
    }

    /// A one-iteration warmup (an --iterations run of 15 to 44 at the default 1/30 fraction) is
    /// np.linspace(0, peak, 1) = [0] upstream: lr 0 at iteration 0, then the cosine from the peak.
    /// The official code's own schedule (tools/official/run_official.py --print-schedules) says so.
    func testOneIterationWarmupIsLinspacesSingleStartValue() {
        let s = CosineSchedule(base: 5e-4, final: 1e-6, totalIterations: 20, warmupIterations: 1)
        XCTAssertEqual(s.value(at: 0), 0)
        XCTAssertEqual(s.value(at: 1), 5e-4, accuracy: 1e-18)
        XCTAssertEqual(CosineSchedule(base: 5e-4, final: 1e-6, totalIterations: 20, warmupIterations: 2).value(at: 1), 5e-4)
    }

    func testWeightDecayMomentumAndTemperature() {
        let wd = CosineSchedule(base: 0.04, final: 0.4, epochs: 300, iterationsPerEpoch: ipe)
        XCTAssertEqual(wd.value(at: 0), 0.04, accuracy: 1e-15)   // 0.4 + ½(0.04 − 0.4)·2 in doubles, as numpy
        let mom = CosineSchedule(base: 0.996, final: 1, epochs: 300, iterationsPerEpoch: ipe)
        XCTAssertEqual(mom.value(at: 100 * ipe), 0.997, accuracy: 1e-12)
        let tt = TeacherTemperature(warmupTemp: 0.04, temp: 0.07, warmupEpochs: 30)
        XCTAssertEqual(tt.value(epoch: 0), 0.04)
        XCTAssertEqual(tt.value(epoch: 1), 0.0410345, accuracy: 1e-7)
        XCTAssertEqual(tt.value(epoch: 29), 0.07, accuracy: 1e-15)
        XCTAssertEqual(tt.value(epoch: 30), 0.07)
    }
}

extension ScheduleTests {
    /// Iteration mode (--iterations, --time-budget): lengths in iterations, the temperature ramps
    /// per iteration and the freeze counts iterations; everything ends at the last iteration.
    func testIterationModeLengthsAndEnds() {
        let T = 1000
        let s = TrainingSchedule(peakLR: LearningRate.peak(base: 0.0005, globalBatch: 512), minLR: 1e-6, warmupIterations: 33, weightDecay: 0.04, weightDecayEnd: 0.4,
                                 momentumTeacher: 0.996, warmupTeacherTemp: 0.04, teacherTemp: 0.07, warmupTeacherTempIterations: 100,
                                 totalIterations: T, iterationsPerEpoch: 937, freezeLastLayerIterations: 3, clipGrad: 3)
        XCTAssertEqual(s.values(at: 0).lr, 0)
        XCTAssertEqual(s.values(at: 32).lr, 1e-3, accuracy: 1e-15, "warmup reaches the peak at its last iteration")
        XCTAssertLessThan(s.values(at: 31).lr, 1e-3)
        XCTAssertEqual(s.values(at: 0).teacherTemperature, 0.04)
        XCTAssertEqual(s.values(at: 1).teacherTemperature, 0.04 + 0.03 / 99, accuracy: 1e-15, "the temperature ramps every iteration")
        XCTAssertEqual(s.values(at: 99).teacherTemperature, 0.07, accuracy: 1e-15)
        XCTAssertEqual(s.values(at: 100).teacherTemperature, 0.07)
        XCTAssertTrue(s.values(at: 2).freezeLastLayer)
        XCTAssertFalse(s.values(at: 3).freezeLastLayer)
        // The last iteration is the end of every cosine: one step before its final value.
        let last = s.values(at: T - 1)
        let M = Double(T - 33)
        XCTAssertEqual(last.lr, 1e-6 + 0.5 * (1e-3 - 1e-6) * (1 + cos(Double.pi * (M - 1) / M)), accuracy: 1e-18)
        XCTAssertLessThan(last.lr, 1.01e-6)
        XCTAssertEqual(last.weightDecay, 0.4, accuracy: 1e-5)
        XCTAssertEqual(last.momentum, 1, accuracy: 1e-7)
        // Epoch mode is unchanged by the iteration-mode constructor's existence.
        let e = TrainingSchedule(peakLR: LearningRate.peak(base: 0.0005, globalBatch: 512), minLR: 1e-6, warmupEpochs: 1, weightDecay: 0.04, weightDecayEnd: 0.4,
                                 momentumTeacher: 0.996, warmupTeacherTemp: 0.04, teacherTemp: 0.07, warmupTeacherTempEpochs: 3,
                                 epochs: 10, iterationsPerEpoch: 100, freezeLastLayerEpochs: 1, clipGrad: 3)
        XCTAssertEqual(e.values(at: 199).teacherTemperature, 0.055, accuracy: 1e-15, "per epoch: epoch 1 of a 3-epoch ramp")
        XCTAssertTrue(e.values(at: 99).freezeLastLayer)
        XCTAssertFalse(e.values(at: 100).freezeLastLayer)
    }
}

final class AdamWTests: XCTestCase {
    func makeTable() -> ParameterTable {
        let t = ParameterTable()
        t.add("w.weight", [3, 5])                  // decay
        t.add("w.bias", [3])                        // no decay
        t.add("head.last_layer.weight_v", [4, 2])   // decay; frozen in "epoch 0"
        t.add("head.last_layer.weight_g", [4, 1], trainable: false)
        return t
    }

    func testGroupsFromShapesAndNames() {
        let t = makeTable()
        XCTAssertEqual(t.entries.map(\.decay), [true, false, true, true])
    }

    func testMatchesTorchAdamWFormula() {
        let t = makeTable()
        let opt = AdamW(table: t)
        let p = t.makeArena(), g = t.makeArena()
        var rng = KeyedRandom(7)
        for i in 0..<t.totalCount { p[i] = Float(rng.uniform(-1, 1)) }
        var ref = (0..<t.totalCount).map { Double(p[$0]) }
        var mr = [Double](repeating: 0, count: t.totalCount), vr = mr
        var stepsRef = [Int](repeating: 0, count: t.entries.count)
        let lrs: [Float] = [1e-2, 5e-3, 2e-3], wds: [Float] = [0.04, 0.1, 0.4]
        for s in 0..<3 {
            for i in 0..<t.totalCount { g[i] = Float(rng.uniform(-1, 1)) }
            let freeze = s == 0
            opt.step(params: p.pointer, grads: g.pointer, lr: lrs[s], weightDecay: wds[s]) { freeze && $0.key.contains("last_layer") }
            for (k, e) in t.entries.enumerated() where e.trainable && !(freeze && e.key.contains("last_layer")) {
                stepsRef[k] += 1
                let tt = Double(stepsRef[k]), lr = Double(lrs[s]), wd = Double(wds[s])
                for i in e.offset..<(e.offset + e.count) {
                    let gi = Double(g[i])
                    if e.decay { ref[i] *= 1 - lr * wd }
                    mr[i] = 0.9 * mr[i] + 0.1 * gi
                    vr[i] = 0.999 * vr[i] + 0.001 * gi * gi
                    ref[i] -= lr / (1 - pow(0.9, tt)) * mr[i] / (vr[i].squareRoot() / (1 - pow(0.999, tt)).squareRoot() + 1e-8)
                }
            }
        }
        XCTAssertEqual(opt.steps, [3, 3, 2, 0])
        for i in 0..<t.totalCount { XCTAssertEqual(Double(p[i]), ref[i], accuracy: 1e-6, "element \(i)") }
        let gEntry = t.entry("head.last_layer.weight_g")!
        var rng2 = KeyedRandom(7)
        for i in 0..<t.totalCount { let v = Float(rng2.uniform(-1, 1)); if i >= gEntry.offset && i < gEntry.offset + gEntry.count { XCTAssertEqual(p[i], v, "frozen g untouched") } }
    }

    func testPerTensorClipping() {
        let t = ParameterTable()
        t.add("a.weight", [2, 2]); t.add("b.bias", [2])
        let g = t.makeArena()
        let a = t.entry("a.weight")!.offset, b = t.entry("b.bias")!.offset
        for i in 0..<4 { g[a + i] = 3 }          // norm 6 → scaled to 3
        g[b] = 0.3; g[b + 1] = 0.4              // norm 0.5 → untouched
        let norms = AdamW.clipPerTensor(g.pointer, table: t, maxNorm: 3)
        XCTAssertEqual(norms, [6, 0.5])
        let clipped = (0..<4).map { Double(g[a + $0]) }.reduce(0) { $0 + $1 * $1 }.squareRoot()
        XCTAssertEqual(clipped, 3 * 6 / (6 + 1e-6), accuracy: 1e-5)
        XCTAssertEqual(g[b], 0.3); XCTAssertEqual(g[b + 1], 0.4)
    }

    func testEMA() {
        let s = FloatBuffer([1, 2, 3]), te = FloatBuffer([0, 0, 0])
        AdamW.ema(teacher: te.pointer, student: s.pointer, count: 3, momentum: 0.75)
        XCTAssertEqual(te.array, [0.25, 0.5, 0.75])
    }
}
