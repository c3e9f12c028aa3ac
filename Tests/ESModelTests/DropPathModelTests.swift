// Whole-model backward with DropPath active (rate 0.5, so masks differ between sites and
// samples): the directional derivative of L = ⟨pooled, w⟩ + ⟨tokens, u⟩ along a random
// parameter direction v, by central differences of the Float model (same keys → same masks),
// must equal ⟨∇L, v⟩ from backward. Also: masks depend only on the keys.
import XCTest
import ESKernels
import ESModel
import ESTestSupport

final class DropPathModelTests: XCTestCase {
    func testDirectionalDerivativeWithDropPath() {
        var cfg = tinyFixtureConfig
        cfg.dropPathRate = 0.5
        let m = GeneratedModel(cfg)
        let B = 4, size = 14
        let ws = SwinWorkspace(model: m.model, batch: B, height: size, width: size, training: true)
        let img = FixtureTensors.array("dp.img", count: B * 3 * size * size, scale: 1)
        let keys: [UInt64] = [11, 12, 13, 14]
        let nTok = B * ws.finalTokens * ws.finalDim, nPool = B * ws.finalDim
        let u = FixtureTensors.array("dp.u", count: nTok, scale: 1), w = FixtureTensors.array("dp.w", count: nPool, scale: 1)
        func loss(_ p: UnsafePointer<Float>) -> Double {
            m.model.forward(params: p, image: img, workspace: ws, dropPathKeys: keys)
            var s = 0.0
            for i in 0..<nTok { s += Double(ws.tokens[i]) * Double(u[i]) }
            for i in 0..<nPool { s += Double(ws.pooled[i]) * Double(w[i]) }
            return s
        }
        _ = loss(m.params.pointer)
        let dropped = ws.blocks.map { a in (0..<B).filter { a.drop1[$0] == 0 || a.drop2[$0] == 0 }.count }.reduce(0, +)
        XCTAssertGreaterThan(dropped, 0, "rate 0.5 must drop some residual branches")
        m.grads.zero()
        m.model.backward(params: m.params.pointer, grads: m.grads.pointer, workspace: ws, dTokens: u, dPooled: w)
        let n = m.table.totalCount
        let v = FixtureTensors.array("dp.v", count: n, scale: 1)
        var analytic = 0.0
        for i in 0..<n { analytic += Double(m.grads[i]) * Double(v[i]) }
        let eps: Float = 1e-3
        let plus = FloatBuffer(count: n), minus = FloatBuffer(count: n)
        for i in 0..<n { plus[i] = m.params[i] + eps * v[i]; minus[i] = m.params[i] - eps * v[i] }
        let numeric = (loss(plus.pointer) - loss(minus.pointer)) / (2 * Double(eps))
        XCTAssertEqual(numeric, analytic, accuracy: 1e-2 * abs(analytic), "directional derivative with DropPath")
        // Swapping the two sites' masks changes the loss: the test above would notice wiring errors.
        let base = loss(m.params.pointer)
        let otherKeys: [UInt64] = [21, 22, 23, 24]
        m.model.forward(params: m.params.pointer, image: img, workspace: ws, dropPathKeys: otherKeys)
        var s = 0.0
        for i in 0..<nPool { s += Double(ws.pooled[i]) * Double(w[i]) }
        for i in 0..<nTok { s += Double(ws.tokens[i]) * Double(u[i]) }
        XCTAssertNotEqual(s, base, "different keys draw different masks")
        XCTAssertEqual(loss(m.params.pointer), base, "same keys give the same masks and output")
    }
}
