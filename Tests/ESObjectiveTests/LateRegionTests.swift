// The paper's late region loss (--region-start-fraction): before the switch, a model with a
// region head trains exactly as the view-only model of the same seed (every shared parameter,
// moment, center and loss bit for bit, since initialisation is keyed by parameter name), and its
// region head, the head's AdamW state and the region center stay as initialised, as if the head
// were added fresh at the switch; from the switch on, the region loss trains it.
import XCTest
import ESCheckpoint
import ESKernels
import ESModel
import ESObjective
import ESOptim
import ESTestSupport

final class LateRegionTests: XCTestCase {
    func crops(_ it: Int) -> ([Float], [Float]) {
        (FixtureTensors.array("late.g\(it)", count: 4 * 2 * 3 * 32 * 32, scale: 1), FixtureTensors.array("late.l\(it)", count: 4 * 2 * 3 * 16 * 16, scale: 1))
    }

    func values(_ m: EsViT, _ arena: FloatBuffer, _ key: String) -> [Float] {
        let e = m.table.entries.first { $0.key == key }!
        return Array(UnsafeBufferPointer(start: arena.pointer + e.offset, count: e.count))
    }

    func testViewOnlyPhaseEqualsTheViewOnlyModelAndLeavesTheRegionHeadFresh() throws {
        var viewOnly = StepFixtureTests.config
        viewOnly.useDense = false
        let late = EsViT(config: StepFixtureTests.config, seed: 7), plain = EsViT(config: viewOnly, seed: 7)
        let fresh = EsViT(config: StepFixtureTests.config, seed: 7)
        func hyper(region: Bool) -> StepHyper {
            StepHyper(lr: 1e-3, weightDecay: 0.04, teacherMomentum: 0.99, teacherTemperature: 0.04, clipGrad: 3, freezeLastLayer: false, regionLoss: region)
        }
        for it in 0..<2 {
            let (g, l) = crops(it)
            let a = try late.step(globals: g, locals: l, hyper: hyper(region: false)), b = try plain.step(globals: g, locals: l, hyper: hyper(region: true))
            XCTAssertEqual(a.loss.total, b.loss.total, "step \(it): the view-only phase's loss is the view-only model's")
            XCTAssertEqual(a.loss.region, 0)
        }
        for e in plain.table.entries {
            for (arena, other, name) in [(late.student, plain.student, "student"), (late.teacher, plain.teacher, "teacher"),
                                         (late.optimizer.m, plain.optimizer.m, "m"), (late.optimizer.v, plain.optimizer.v, "v")] {
                XCTAssertEqual(values(late, arena, e.key), values(plain, other, e.key), "\(name) \(e.key)")
            }
        }
        XCTAssertEqual(late.centers.view.array, plain.centers.view.array)
        let dense = late.table.entries.filter { $0.key.hasPrefix("head_dense.") }
        XCTAssertFalse(dense.isEmpty)
        for e in dense {
            XCTAssertEqual(values(late, late.student, e.key), values(fresh, fresh.student, e.key), "\(e.key) as initialised")
            XCTAssertTrue(values(late, late.optimizer.m, e.key).allSatisfy { $0 == 0 }, "\(e.key): no AdamW moments yet")
        }
        XCTAssertTrue(late.centers.region.array.allSatisfy { $0 == 0 }, "the region center is not updated before the switch")
        // The switch: the region loss trains the head and moves the region center.
        let (g, l) = crops(2)
        let c = try late.step(globals: g, locals: l, hyper: hyper(region: true))
        XCTAssertGreaterThan(c.loss.region, 0)
        XCTAssertEqual(c.loss.total, 0.5 * (c.loss.view + c.loss.region), accuracy: 1e-9 * c.loss.total)
        XCTAssertNotEqual(values(late, late.student, dense[0].key), values(fresh, fresh.student, dense[0].key))
        XCTAssertTrue(late.centers.region.array.contains { $0 != 0 })
    }

    func testScheduleSwitchesAtTheStartIteration() {
        var s = TrainingSchedule(peakLR: LearningRate.peak(base: 0.002, globalBatch: 64), minLR: 1e-6, warmupIterations: 3, weightDecay: 0.04, weightDecayEnd: 0.4,
                                 momentumTeacher: 0.99, warmupTeacherTemp: 0.04, teacherTemp: 0.04, warmupTeacherTempIterations: 3,
                                 totalIterations: 30, iterationsPerEpoch: 937, freezeLastLayerIterations: 1, clipGrad: 3)
        XCTAssertTrue(s.values(at: 0).regionLoss, "default: from the start")
        s.regionStartIteration = 20
        XCTAssertEqual((0..<30).filter { s.values(at: $0).regionLoss }, Array(20..<30))
    }
}
