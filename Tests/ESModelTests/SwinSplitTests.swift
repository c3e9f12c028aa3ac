// The backbone with its batch split across threads (SwinSplit): each part must compute exactly
// what a one-thread pass over its samples computes (outputs bit for bit; gradients as part 0's
// plus the others' added in part order), with DropPath on and an uneven split; the gathered
// outputs must match one whole-batch pass (same per-sample function, up to float rounding of
// products of a different height). Kernels inside a split run with one-thread pools of their
// own, so their grow-only buffers (Wᵀ, ones) and scratch are never shared.
import XCTest
import ESKernels
@testable import ESModel
import ESTestSupport

final class SwinSplitTests: XCTestCase {
    override func tearDown() { Compute.setThreads(1) }

    func testSplitEqualsOneThreadPassesPerPart() {
        var cfg = tinyFixtureConfig
        cfg.dropPathRate = 0.3
        for (name, cfg, size) in [("tiny", cfg, 14), ("swin_mini", SwinConfig.preset("swin_mini")!, 28)] {
            let m = GeneratedModel(cfg), B = 5, n = 2, per = 3 * size * size
            let img = FixtureTensors.array("split.img.\(name)", count: B * per, scale: 1)
            let keys = (0..<B).map { UInt64(100 + $0) }
            Compute.setThreads(n)
            let split = SwinSplit(model: m.model, batch: B, height: size, width: size, training: true, parts: n, gradientCount: m.table.totalCount)
            XCTAssertEqual(split.ranges, [0..<2, 2..<5])
            let Lf = split.finalTokens, Cf = split.finalDim
            let dTok = FixtureTensors.array("split.dtok.\(name)", count: B * Lf * Cf, scale: 1)
            let dPool = FixtureTensors.array("split.dpool.\(name)", count: B * Cf, scale: 1)
            split.forward(m.model, params: m.params.pointer, image: img, dropPathKeys: keys)
            var tokens = [Float](repeating: .nan, count: B * Lf * Cf), pooled = [Float](repeating: .nan, count: B * Cf)
            split.gather(tokens: &tokens, pooled: &pooled)
            m.grads.zero()
            split.backward(m.model, params: m.params.pointer, grads: m.grads.pointer, dTokens: dTok, dPooled: dPool)
            let got = m.grads.array

            // Reference: one thread, one workspace per part, the parts' samples sliced here.
            Compute.setThreads(1)
            var refTokens: [Float] = [], refPooled: [Float] = []
            let ref = FloatBuffer(count: m.table.totalCount), other = FloatBuffer(count: m.table.totalCount)
            for (t, r) in [0..<2, 2..<5].enumerated() {
                let ws = SwinWorkspace(model: m.model, batch: r.count, height: size, width: size, training: true)
                img.withUnsafeBufferPointer { m.model.forward(params: m.params.pointer, image: $0.baseAddress! + r.lowerBound * per, workspace: ws, dropPathKeys: Array(keys[r])) }
                refTokens += Array(UnsafeBufferPointer(start: ws.tokens, count: r.count * Lf * Cf))
                refPooled += Array(UnsafeBufferPointer(start: ws.pooled, count: r.count * Cf))
                let g = t == 0 ? ref : other
                dTok.withUnsafeBufferPointer { dt in dPool.withUnsafeBufferPointer { dp in
                    m.model.backward(params: m.params.pointer, grads: g.pointer, workspace: ws,
                                     dTokens: dt.baseAddress! + r.lowerBound * Lf * Cf, dPooled: dp.baseAddress! + r.lowerBound * Cf)
                } }
            }
            VectorMath.add(other.pointer, into: ref.pointer, ref.count)
            XCTAssertTrue(tokens == refTokens, "\(name): split tokens differ from one-thread passes per part")
            XCTAssertTrue(pooled == refPooled, "\(name): split pooled features differ from one-thread passes per part")
            let bad = zip(got, ref.array).filter { $0 != $1 }.count
            XCTAssertEqual(bad, 0, "\(name): \(bad) of \(got.count) gradient entries differ from one-thread passes per part")
            XCTAssertGreaterThan(got.filter { $0 != 0 }.count, got.count / 2, "\(name): the backward reached the parameters")

            // The whole batch in one pass: the same function of each sample; only the rows per
            // product call differ, which may reassociate a dot product in a library's edge kernels:
            // at most K·u relative per product, 2·768·6e-8 ≈ 1e-4 for the longest (K = 4·192).
            // A slicing error moves whole samples: differences of order one.
            let whole = SwinWorkspace(model: m.model, batch: B, height: size, width: size, training: true)
            m.model.forward(params: m.params.pointer, image: img, workspace: whole, dropPathKeys: keys)
            let wholePooled = Array(UnsafeBufferPointer(start: whole.pooled, count: B * Cf))
            let worst = zip(pooled, wholePooled).map { abs($0 - $1) / max(1, abs($1)) }.max()!
            XCTAssertLessThan(worst, 1e-4, "\(name): split pooled features vs one whole-batch pass")
        }
    }

    /// The parts' gradients are zeroed and added over the backbone's parameter range only: with
    /// entries before and after it, the range's gradients equal those of a backbone-only arena bit
    /// for bit, and the other entries keep what they held.
    func testSplitTouchesOnlyTheBackboneRange() {
        let plain = GeneratedModel(tinyFixtureConfig), framed = GeneratedModel(tinyFixtureConfig, framed: true)
        let range = framed.model.parameterRange
        XCTAssertEqual(range.count, plain.table.totalCount)
        XCTAssertTrue(range.lowerBound > 0 && range.upperBound < framed.table.totalCount)
        let B = 3, size = 14, img = FixtureTensors.array("split.img.tiny", count: B * 3 * size * size, scale: 1)
        Compute.setThreads(2)
        var grads: [[Float]] = []
        for m in [plain, framed] {
            let split = SwinSplit(model: m.model, batch: B, height: size, width: size, training: true, parts: 2, gradientCount: m.table.totalCount)
            let dPool = FixtureTensors.array("split.dpool.tiny", count: B * split.finalDim, scale: 1)
            split.forward(m.model, params: m.params.pointer, image: img)
            m.grads.pointer.update(repeating: 7, count: m.table.totalCount)
            let r = m.model.parameterRange
            (m.grads.pointer + r.lowerBound).update(repeating: 0, count: r.count)
            split.backward(m.model, params: m.params.pointer, grads: m.grads.pointer, dTokens: nil, dPooled: dPool)
            grads.append(m.grads.array)
        }
        XCTAssertTrue(Array(grads[1][range]) == grads[0], "the backbone's gradients do not depend on where its range lies")
        XCTAssertTrue(grads[1][..<range.lowerBound].allSatisfy { $0 == 7 } && grads[1][range.upperBound...].allSatisfy { $0 == 7 },
                      "entries outside the backbone's range were written")
        XCTAssertGreaterThan(grads[0].filter { $0 != 0 }.count, grads[0].count / 2)
    }
}
