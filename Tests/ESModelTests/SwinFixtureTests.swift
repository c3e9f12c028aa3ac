// The Swift Swin against PyTorch (tools/reference/swin_reference.py, fixtures from
// make_fixtures.py): one shifted block on a padded grid (forward, input and parameter
// gradients), a small two-stage model at two input sizes with patch merging (tokens, pooled,
// the stage-0 output after merging, every parameter gradient), the CPU preset swin_mini at 32
// and 16 px, and Swin-T/7 at 224 (forward). Run single- and multi-threaded.
import XCTest
@testable import ESModel
import ESKernels
import ESTestSupport
import ESTestAssertions

final class SwinFixtureTests: XCTestCase {
    override func tearDown() { Compute.setThreads(1) }

    func testShiftedBlockOnPaddedGrid() throws {
        for threads in [1, 2] {
            Compute.setThreads(threads)
            let fx = try fixture("block")
            // One stage of two blocks; block 1 is the shifted one (ws 4, shift 2). Grid 6 → padded 8.
            let cfg = SwinConfig(patchSize: 1, inChans: 20, embedDim: 20, depths: [2], numHeads: [2],
                                 windowSize: 4, constructSize: 8, dropPathRate: 0)
            let m = GeneratedModel(cfg)
            let bp = m.model.blocks[1]
            XCTAssertEqual(bp.plan.windowSize, 4); XCTAssertEqual(bp.plan.shift, 2)
            let B = 2, L = 36, C = 20
            let ws = SwinWorkspace(model: m.model, batch: B, height: 6, width: 6, training: true)
            let a = ws.blocks[1]
            FixtureTensors.fill("input.block.x", a.xIn, count: B * L * C, scale: 1)
            m.model.blockForward(bp, a, m.params.pointer, B, dropPath: nil)
            assertClose("block y (threads \(threads))", got: a.xOut, want: try fx.floats("y"), atol: 2e-5, rtol: 1e-5)
            let dStream = FloatBuffer(count: B * L * C)
            FixtureTensors.fill("input.block.dy", dStream.pointer, count: B * L * C, scale: 1)
            m.model.blockBackward(bp, a, m.params.pointer, m.grads.pointer, B, dStream: dStream.pointer, ws: ws)
            assertClose("block dx", got: dStream.pointer, want: try fx.floats("dx"), atol: 1e-4, rtol: 1e-4)
            for e in m.table.entries where e.key.hasPrefix("layers.0.blocks.1.") {
                assertClose("grad \(e.key)", got: m.grads.pointer + e.offset, want: try fx.floats("grad." + e.key), atol: 1e-4, rtol: 1e-4)
            }
        }
    }

    func testSmallModelTwoSizesWithGradients() throws {
        let fx = try fixture("tiny")
        for threads in [1, 2] {
            Compute.setThreads(threads)
            let m = GeneratedModel(tinyFixtureConfig)
            for size in [24, 14] {
                m.grads.zero()
                let B = 2
                let ws = SwinWorkspace(model: m.model, batch: B, height: size, width: size, training: true)
                let img = FixtureTensors.array("input.tiny.img\(size)", count: B * 3 * size * size, scale: 1)
                m.model.forward(params: m.params.pointer, image: img, workspace: ws)
                let nTok = B * ws.finalTokens * ws.finalDim
                assertClose("tokens@\(size) t\(threads)", got: ws.tokens, want: try fx.floats("tokens@\(size)"), atol: 1e-4)
                assertClose("pooled@\(size)", got: ws.pooled, want: try fx.floats("pooled@\(size)"), atol: 1e-4)
                assertClose("stage0@\(size)", got: ws.merges[0]!.out, want: try fx.floats("stage0@\(size)"), atol: 1e-4)
                let dTok = FixtureTensors.array("input.tiny.dtok\(size)", count: nTok, scale: 1)
                let dPool = FixtureTensors.array("input.tiny.dpool\(size)", count: B * ws.finalDim, scale: 1)
                m.model.backward(params: m.params.pointer, grads: m.grads.pointer, workspace: ws, dTokens: dTok, dPooled: dPool)
                for e in m.table.entries {
                    assertClose("grad \(e.key)@\(size)", got: m.grads.pointer + e.offset, want: try fx.floats("grad.\(e.key)@\(size)"),
                                atol: 1e-4, rtol: 1e-4)
                }
            }
        }
    }

    func testInferenceWorkspaceMatchesTraining() throws {
        let m = GeneratedModel(tinyFixtureConfig)
        let fx = try fixture("tiny")
        let ws = SwinWorkspace(model: m.model, batch: 2, height: 24, width: 24, training: false)
        let img = FixtureTensors.array("input.tiny.img24", count: 2 * 3 * 24 * 24, scale: 1)
        m.model.forward(params: m.params.pointer, image: img, workspace: ws)
        assertClose("no-grad tokens", got: ws.tokens, want: try fx.floats("tokens@24"), atol: 1e-4)
        let train = SwinWorkspace(model: m.model, batch: 2, height: 24, width: 24, training: true)
        XCTAssertLessThan(ws.bytes, train.bytes / 2, "the no-grad workspace must not keep per-block activations")
    }

    func testSwinMiniPresetGlobalAndLocal() throws {
        let fx = try fixture("swin_mini")
        let m = GeneratedModel(SwinConfig.preset("swin_mini")!)
        for size in [32, 16] {
            let ws = SwinWorkspace(model: m.model, batch: 2, height: size, width: size, training: false)
            let img = FixtureTensors.array("input.swin_mini.img\(size)", count: 2 * 3 * size * size, scale: 1)
            m.model.forward(params: m.params.pointer, image: img, workspace: ws)
            assertClose("swin_mini tokens@\(size)", got: ws.tokens, want: try fx.floats("tokens@\(size)"), atol: 1e-4)
            assertClose("swin_mini pooled@\(size)", got: ws.pooled, want: try fx.floats("pooled@\(size)"), atol: 1e-4)
        }
    }

    func testSwinTinyAt224() throws {
        Compute.setThreads(2)
        let fx = try fixture("swin_tiny")
        let m = GeneratedModel(SwinConfig.preset("swin_tiny")!)
        let ws = SwinWorkspace(model: m.model, batch: 1, height: 224, width: 224, training: false)
        let img = FixtureTensors.array("input.swin_tiny.img224", count: 3 * 224 * 224, scale: 1)
        m.model.forward(params: m.params.pointer, image: img, workspace: ws)
        XCTAssertEqual(ws.finalTokens, 49); XCTAssertEqual(ws.finalDim, 768)
        assertClose("swin_tiny tokens@224", got: ws.tokens, want: try fx.floats("tokens@224"), atol: 1e-4)
        assertClose("swin_tiny pooled@224", got: ws.pooled, want: try fx.floats("pooled@224"), atol: 1e-4)
    }
}
