// Checkpoints: 2 steps + save + load into a fresh model + 1 step equals 3 uninterrupted steps
// (losses and every arena bit for bit); the file is plain safetensors with upstream key names;
// a truncated file, a foreign file and a different configuration are refused with messages
// that say why, and leave the model untouched.
import XCTest
import Foundation
import ESCheckpoint
import ESKernels
import ESModel
import ESObjective
import ESOptim
import ESTestSupport

final class CheckpointTests: XCTestCase {
    let schedule = TrainingSchedule(peakLR: LearningRate.peak(base: 0.5, globalBatch: 4), minLR: 1e-4, warmupEpochs: 1, weightDecay: 0.04, weightDecayEnd: 0.4,
                                    momentumTeacher: 0.9, warmupTeacherTemp: 0.04, teacherTemp: 0.07, warmupTeacherTempEpochs: 2,
                                    epochs: 3, iterationsPerEpoch: 2, freezeLastLayerEpochs: 1, clipGrad: 0.5)

    func crops(_ it: Int) -> ([Float], [Float]) {
        (FixtureTensors.array("ckpt.g\(it)", count: 8 * 3 * 32 * 32, scale: 1), FixtureTensors.array("ckpt.l\(it)", count: 8 * 3 * 16 * 16, scale: 1))
    }

    func testResumeEqualsUninterrupted() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-ckpt")
        let cfg = StepFixtureTests.config
        let a = EsViT(config: cfg, seed: 3)
        var lossesA: [Double] = []
        for it in 0..<3 { let (g, l) = crops(it); lossesA.append(try a.step(globals: g, locals: l, iteration: it, schedule: schedule).loss.total) }
        let b = EsViT(config: cfg, seed: 3)
        for it in 0..<2 { let (g, l) = crops(it); _ = try b.step(globals: g, locals: l, iteration: it, schedule: schedule) }
        let path = tmp.path("checkpoint.safetensors")
        try b.saveCheckpoint(to: path, info: CheckpointInfo(epoch: 1, iteration: 2, globalSamplePosition: 8, seed: 3, worldSize: 1))
        let c = EsViT(config: cfg, seed: 99)              // different init: everything must come from the file
        let info = try c.loadCheckpoint(from: path)
        XCTAssertEqual(info, CheckpointInfo(epoch: 1, iteration: 2, globalSamplePosition: 8, seed: 3, worldSize: 1))
        let (g, l) = crops(2)
        let lossC = try c.step(globals: g, locals: l, iteration: 2, schedule: schedule).loss.total
        XCTAssertEqual(lossC, lossesA[2], "the resumed step's loss equals the uninterrupted one, bit for bit")
        for (x, y, name) in [(a.student, c.student, "student"), (a.teacher, c.teacher, "teacher"), (a.optimizer.m, c.optimizer.m, "m"),
                             (a.optimizer.v, c.optimizer.v, "v"), (a.centers.view, c.centers.view, "center"), (a.centers.region, c.centers.region, "center_grid")] {
            XCTAssertEqual(memcmp(x.pointer, y.pointer, x.count * 4), 0, name)
        }
        XCTAssertEqual(a.optimizer.steps, c.optimizer.steps)
        // Plain safetensors with upstream names.
        let f = try SafeTensorsFile(path: path)
        for k in ["student.backbone.layers.0.blocks.0.attn.qkv.weight", "teacher.head.last_layer.weight_g", "teacher.head_dense.mlp.0.weight",
                  "optimizer.exp_avg.head.mlp.0.weight", "loss.center", "loss.center_grid"] {
            XCTAssertNotNil(f.tensors[k], k)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp"))
    }

    func testDamagedForeignAndMismatchedCheckpointsAreRefused() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-ckpt-bad")
        let cfg = StepFixtureTests.config
        let a = EsViT(config: cfg, seed: 3)
        let path = tmp.path("c.safetensors")
        try a.saveCheckpoint(to: path, info: CheckpointInfo(epoch: 0, iteration: 0, globalSamplePosition: 0, seed: 3, worldSize: 1))
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        _ = FileManager.default.createFile(atPath: tmp.path("cut.safetensors"), contents: data.prefix(data.count / 2))
        // A model with a step behind it, so teacher, moments, centers and step count are not their initial values.
        let fresh = EsViT(config: cfg, seed: 5)
        let (g0, l0) = crops(0)
        _ = try fresh.step(globals: g0, locals: l0, iteration: 0, schedule: schedule)
        func state(_ m: EsViT) -> [String: [Float]] {
            ["student": m.student.array, "teacher": m.teacher.array, "m": m.optimizer.m.array, "v": m.optimizer.v.array,
             "center": m.centers.view.array, "center_grid": m.centers.region.array, "steps": m.optimizer.steps.map(Float.init)]
        }
        let before = state(fresh)
        XCTAssertTrue(before.allSatisfy { $0.value.contains { $0 != 0 } }, "every part of the state is non-zero before the refusals")
        XCTAssertThrowsError(try fresh.loadCheckpoint(from: tmp.path("cut.safetensors"))) { XCTAssertTrue("\($0)".contains("cannot use checkpoint"), "\($0)") }
        var w = SafeTensorsWriter(); w.add("x", shape: [1], floats: [1])
        try w.write(to: tmp.path("other.safetensors"))
        XCTAssertThrowsError(try fresh.loadCheckpoint(from: tmp.path("other.safetensors"))) { XCTAssertTrue("\($0)".contains("not an esvit training checkpoint"), "\($0)") }
        for (name, x) in state(fresh) { XCTAssertEqual(x, before[name], "a refused checkpoint leaves the \(name) untouched") }
        // Another configuration, on a model with a step behind it too.
        var other = cfg; other.head.outDim = 32
        let mismatched = EsViT(config: other, seed: 1)
        _ = try mismatched.step(globals: g0, locals: l0, iteration: 0, schedule: schedule)
        let beforeMismatch = state(mismatched)
        XCTAssertThrowsError(try mismatched.loadCheckpoint(from: path)) { e in
            XCTAssertTrue("\(e)".contains("head.outDim: checkpoint 64, now 32"), "\(e)")
        }
        for (name, x) in state(mismatched) { XCTAssertEqual(x, beforeMismatch[name], "a checkpoint of another configuration leaves the \(name) untouched") }
    }
}
