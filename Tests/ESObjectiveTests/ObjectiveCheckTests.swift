// Objective-level check values (docs/algorithm.md §9): with all-zero head outputs both loss terms equal
// ln K; 18 pairs for 2 global + 8 local crops with 49/9 regions; a non-finite loss raises a
// clear error; the view-only mode (region loss off) reports L = L_V.
import XCTest
import Foundation
import ESKernels
import ESLoss
import ESModel
import ESObjective
import ESOptim
import ESTestSupport

final class ObjectiveCheckTests: XCTestCase {
    func testPairAndRowBookkeeping() {
        let l = LossLayout(batch: 32, localCrops: 8, globalTokens: 49, localTokens: 9)
        XCTAssertEqual(l.pairs, 18)
        XCTAssertEqual(l.studentRegionRows, 170 * 32)
        XCTAssertEqual(l.regionStart(view: 2).row, 2 * 32 * 49)
        XCTAssertEqual(l.regionStart(view: 9).tokens, 9)
    }

    static func makeModel(dense: Bool) -> (EsViT, [Float], [Float]) {
        var cfg = StepFixtureTests.config
        cfg.useDense = dense
        let m = EsViT(config: cfg, seed: 1)
        let g = FixtureTensors.array("check.globals", count: 8 * 3 * 32 * 32, scale: 1)
        let l = FixtureTensors.array("check.locals", count: 8 * 3 * 16 * 16, scale: 1)
        return (m, g, l)
    }

    func testZeroHeadOutputsGiveLogK() throws {
        let (m, g, l) = Self.makeModel(dense: true)
        for e in m.table.entries where e.key.hasSuffix("last_layer.weight_g") {
            (m.student.pointer + e.offset).update(repeating: 0, count: e.count)
            (m.teacher.pointer + e.offset).update(repeating: 0, count: e.count)
        }
        let v = try m.forwardBackward(globals: g, locals: l, teacherTemperature: 0.04)
        XCTAssertEqual(v.view, log(64.0), accuracy: 1e-5)
        XCTAssertEqual(v.region, log(64.0), accuracy: 1e-5)
        XCTAssertEqual(v.total, log(64.0), accuracy: 1e-5)
        // The collapse statistics agree: uniform teacher and student, every entropy ln K, KL 0.
        let a: EsViTLoss.TeacherStats? = m.loss.teacherStats(region: false), b: EsViTLoss.TeacherStats? = m.loss.teacherStats(region: true)
        for (s, lossValue) in [(try XCTUnwrap(a), v.view), (try XCTUnwrap(b), v.region)] {
            XCTAssertEqual(s.entropySum / s.rows, log(64.0), accuracy: 1e-5)
            XCTAssertEqual(s.pairEntropy, log(64.0), accuracy: 1e-5)
            XCTAssertEqual(lossValue - s.pairEntropy, 0, accuracy: 1e-5)
        }
    }

    /// Weight-decay groups as upstream (docs/algorithm.md §5.4): ≥2-D and not .bias, so the relative-position
    /// tables and weight_g/weight_v decay; LayerNorm parameters and biases do not.
    func testWeightDecayGroupsOfTheEsViTTable() {
        let (m, _, _) = Self.makeModel(dense: true)
        func decay(_ k: String) -> Bool? { m.table.entry(k)?.decay }
        XCTAssertEqual(decay("backbone.layers.0.blocks.0.attn.relative_position_bias_table"), true)
        XCTAssertEqual(decay("head.last_layer.weight_g"), true)
        XCTAssertEqual(decay("head_dense.last_layer.weight_v"), true)
        XCTAssertEqual(decay("backbone.patch_embed.proj.weight"), true)
        XCTAssertEqual(decay("backbone.layers.0.blocks.0.norm1.weight"), false)
        XCTAssertEqual(decay("head.mlp.0.bias"), false)
        XCTAssertEqual(m.table.entry("head.last_layer.weight_g")?.trainable, true, "norm_last_layer false: g trains")
    }

    func testStepReturnsCenterSumsAndTimes() throws {
        let (m, g, l) = Self.makeModel(dense: true)
        let schedule = TrainingSchedule(peakLR: LearningRate.peak(base: 0.0005, globalBatch: 4), minLR: 1e-6, warmupEpochs: 1, weightDecay: 0.04, weightDecayEnd: 0.4,
                                        momentumTeacher: 0.996, warmupTeacherTemp: 0.04, teacherTemp: 0.07, warmupTeacherTempEpochs: 1,
                                        epochs: 2, iterationsPerEpoch: 3, freezeLastLayerEpochs: 1, clipGrad: 3)
        let r = try m.step(globals: g, locals: l, iteration: 0, schedule: schedule)
        XCTAssertEqual(r.viewCenterCount, 8); XCTAssertEqual(r.regionCenterCount, 8 * 16)   // 2B crops × 4×4 final tokens
        XCTAssertEqual(r.viewCenterSum.count, 64)
        // Center after the step = 0.1 · mean of the raw teacher logits (it started at 0).
        for k in 0..<64 { XCTAssertEqual(Double(m.centers.view[k]), 0.1 * r.viewCenterSum[k] / 8, accuracy: 1e-6) }
        XCTAssertGreaterThan(r.times.total, 0)
    }

    func testNonFiniteLossIsReported() {
        let (m, g, l) = Self.makeModel(dense: true)
        let e = m.table.entry("head.mlp.4.bias")!
        m.student[e.offset] = .nan
        XCTAssertThrowsError(try m.forwardBackward(globals: g, locals: l, teacherTemperature: 0.04)) { error in
            XCTAssertTrue("\(error)".contains("not finite"), "\(error)")
        }
    }

    func testViewOnlyMode() throws {
        let (m, g, l) = Self.makeModel(dense: false)
        XCTAssertNil(m.table.entry("head_dense.mlp.0.weight"))
        let v = try m.forwardBackward(globals: g, locals: l, teacherTemperature: 0.04)
        XCTAssertEqual(v.region, 0); XCTAssertEqual(v.total, v.view)
        XCTAssertTrue(v.view.isFinite && v.view > 0)
    }
}
