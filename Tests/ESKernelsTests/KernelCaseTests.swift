// One case table drives, per kernel: (1) central finite differences on the Double reference's
// backward, (2) the fast Float forward and backward against the Double reference. Sizes are
// awkward on purpose: channel counts not a multiple of 8, a single head and several, padded
// windows (24→28, 6→7, 3→7), 3×3 grids. Fast paths run with 1 and 2 threads.
import XCTest
import ESKernels
import ESTestSupport

private func f32(_ a: [Double]) -> [Float] { a.map(Float.init) }
private func f64(_ p: UnsafePointer<Float>, _ n: Int) -> [Double] { (0..<n).map { Double(p[$0]) } }

private func assertNear(_ name: String, _ got: [Float], _ want: [Double], tol: Double,
                        file: StaticString = #filePath, line: UInt = #line) {
    let c = Comparison(name, got: got, want: want.map(Float.init), atol: tol, rtol: tol)
    XCTAssertTrue(c.ok, c.description, file: file, line: line)
}

private func assertFD(_ name: String, _ r: (maxRelError: Double, worst: Int), tol: Double = 1e-6,
                      file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertLessThan(r.maxRelError, tol, "\(name): finite-difference mismatch at \(r.worst)", file: file, line: line)
}

final class KernelCaseTests: XCTestCase {
    override func tearDown() { Compute.setThreads(1) }
    let threadCounts = [1, 2]

    func testLinear() {
        for (M, K, N) in [(1, 5, 3), (7, 12, 17), (33, 20, 9)] {
            let x = FiniteDifference.randoms(M * K, seed: 1), w = FiniteDifference.randoms(N * K, seed: 2)
            let b = FiniteDifference.randoms(N, seed: 3), dy = FiniteDifference.randoms(M * N, seed: 4)
            let (dx, dw, db) = LinearRef.backward(dy, x, w, M: M, K: K, N: N)
            assertFD("linear dx \(M)x\(K)x\(N)", FiniteDifference.check(x, analytic: dx) {
                FiniteDifference.weighted(LinearRef.forward($0, w, b, M: M, K: K, N: N), dy) })
            assertFD("linear dW", FiniteDifference.check(w, analytic: dw) {
                FiniteDifference.weighted(LinearRef.forward(x, $0, b, M: M, K: K, N: N), dy) })
            assertFD("linear db", FiniteDifference.check(b, analytic: db) {
                FiniteDifference.weighted(LinearRef.forward(x, w, $0, M: M, K: K, N: N), dy) })
            for t in threadCounts {
                Compute.setThreads(t)
                let xf = f32(x), wf = f32(w), bf = f32(b), dyf = f32(dy)
                var y = [Float](repeating: 0, count: M * N)
                Linear.forward(y: &y, x: xf, weight: wf, bias: bf, rows: M, inFeatures: K, outFeatures: N)
                assertNear("linear y", y, LinearRef.forward(x, w, b, M: M, K: K, N: N), tol: 1e-5)
                var gx = [Float](repeating: 9, count: M * K), gw = [Float](repeating: 0, count: N * K)
                var gb = [Float](repeating: 0, count: N)
                Linear.backward(dx: &gx, dWeight: &gw, dBias: &gb, dy: dyf, x: xf, weight: wf, rows: M, inFeatures: K, outFeatures: N)
                assertNear("linear dx", gx, dx, tol: 1e-5); assertNear("linear dW", gw, dw, tol: 1e-5)
                assertNear("linear db", gb, db, tol: 1e-5)
            }
        }
    }

    func testLayerNorm() {
        for (rows, C) in [(5, 3), (4, 12), (37, 20), (3, 37)] {
            let x = FiniteDifference.randoms(rows * C, seed: 5).map { $0 * 3 + 0.5 }
            let g = FiniteDifference.randoms(C, seed: 6).map { 1 + 0.3 * $0 }, b = FiniteDifference.randoms(C, seed: 7)
            let dy = FiniteDifference.randoms(rows * C, seed: 8)
            let (dx, dg, db) = LayerNormRef.backward(dy, x, g, rows: rows, C: C, eps: 1e-6)
            assertFD("layernorm dx C=\(C)", FiniteDifference.check(x, analytic: dx) {
                FiniteDifference.weighted(LayerNormRef.forward($0, g, b, rows: rows, C: C, eps: 1e-6), dy) })
            assertFD("layernorm dγ", FiniteDifference.check(g, analytic: dg) {
                FiniteDifference.weighted(LayerNormRef.forward(x, $0, b, rows: rows, C: C, eps: 1e-6), dy) })
            assertFD("layernorm dβ", FiniteDifference.check(b, analytic: db) {
                FiniteDifference.weighted(LayerNormRef.forward(x, g, $0, rows: rows, C: C, eps: 1e-6), dy) })
            for t in threadCounts {
                Compute.setThreads(t)
                var y = [Float](repeating: 0, count: rows * C), mean = [Float](repeating: 0, count: rows)
                var rstd = mean
                let xf = f32(x), gf = f32(g), bf = f32(b), dyf = f32(dy)
                LayerNorm.forward(y: &y, mean: &mean, rstd: &rstd, x: xf, gamma: gf, beta: bf, rows: rows, channels: C, eps: 1e-6)
                assertNear("layernorm y", y, LayerNormRef.forward(x, g, b, rows: rows, C: C, eps: 1e-6), tol: 1e-5)
                var gx = [Float](repeating: 1, count: rows * C), gg = [Float](repeating: 0, count: C), gb = gg
                LayerNorm.backward(dx: &gx, accumulate: true, dGamma: &gg, dBeta: &gb, dy: dyf, x: xf, mean: mean, rstd: rstd,
                                   gamma: gf, rows: rows, channels: C)
                assertNear("layernorm dx (+= onto 1)", gx, dx.map { $0 + 1 }, tol: 2e-5)
                assertNear("layernorm dγ", gg, dg, tol: 2e-5); assertNear("layernorm dβ", gb, db, tol: 1e-5)
            }
        }
    }

    func testGELUAndSoftmax() {
        let x = FiniteDifference.randoms(37, seed: 9).map { $0 * 4 }, dy = FiniteDifference.randoms(37, seed: 10)
        let dx = ActivationRef.geluBackward(dy, x)
        assertFD("gelu", FiniteDifference.check(x, analytic: dx) { FiniteDifference.weighted(ActivationRef.gelu($0), dy) })
        var y = [Float](repeating: 0, count: 37), g = y
        GELU.forward(y: &y, x: f32(x), count: 37)
        assertNear("gelu y", y, ActivationRef.gelu(x), tol: 1e-6)
        GELU.backward(dx: &g, dy: f32(dy), x: f32(x), count: 37)
        assertNear("gelu dx", g, dx, tol: 1e-5)
        for (rows, n) in [(3, 1), (4, 5), (2, 49)] {
            let s = FiniteDifference.randoms(rows * n, seed: 11).map { $0 * 5 }, dp = FiniteDifference.randoms(rows * n, seed: 12)
            let p = ActivationRef.softmax(s, rows: rows, cols: n)
            let ds = ActivationRef.softmaxBackward(dp, p, rows: rows, cols: n)
            assertFD("softmax n=\(n)", FiniteDifference.check(s, analytic: ds) {
                FiniteDifference.weighted(ActivationRef.softmax($0, rows: rows, cols: n), dp) })
            var pf = f32(s)
            Softmax.forward(&pf, rows: rows, cols: n)
            assertNear("softmax p", pf, p, tol: 1e-6)
            var dsf = [Float](repeating: 0, count: rows * n)
            Softmax.backward(dx: &dsf, dp: f32(dp), p: pf, rows: rows, cols: n)
            assertNear("softmax dx", dsf, ds, tol: 1e-5)
        }
    }

    /// (Bw windows, N tokens, C channels, nH heads, masked)
    let attentionCases = [(2, 4, 6, 1, false), (4, 9, 6, 3, true), (2, 16, 12, 4, true), (3, 49, 20, 2, false)]

    func testWindowAttention() {
        for (Bw, N, C, nH, masked) in attentionCases {
            let nW = masked ? 2 : 1
            let qkv = FiniteDifference.randoms(Bw * N * 3 * C, seed: 13).map { $0 * 2 }
            let bias = FiniteDifference.randoms(nH * N * N, seed: 14)
            let mask: [Double]? = masked ? (0..<(nW * N * N)).map { ($0 * 7 % 5 == 0 && $0 % (N + 1) != 0) ? -100 : 0 } : nil
            let dOut = FiniteDifference.randoms(Bw * N * C, seed: 15)
            let (out, P) = WindowAttentionRef.forward(qkv, bias, mask, nW: nW, Bw: Bw, N: N, C: C, nH: nH)
            let (dqkv, dBias) = WindowAttentionRef.backward(dOut, qkv, P, Bw: Bw, N: N, C: C, nH: nH)
            let name = "attention Bw\(Bw) N\(N) C\(C) nH\(nH)"
            assertFD(name + " dqkv", FiniteDifference.check(qkv, analytic: dqkv) {
                FiniteDifference.weighted(WindowAttentionRef.forward($0, bias, mask, nW: nW, Bw: Bw, N: N, C: C, nH: nH).out, dOut) })
            assertFD(name + " dbias", FiniteDifference.check(bias, analytic: dBias) {
                FiniteDifference.weighted(WindowAttentionRef.forward(qkv, $0, mask, nW: nW, Bw: Bw, N: N, C: C, nH: nH).out, dOut) })
            for t in threadCounts {
                Compute.setThreads(t)
                var o = [Float](repeating: 0, count: Bw * N * C), pf = [Float](repeating: 0, count: Bw * nH * N * N)
                let maskF = mask.map(f32)
                if let maskF {
                    WindowAttention.forward(out: &o, probs: &pf, qkv: f32(qkv), bias: f32(bias), mask: maskF, windowsPerImage: nW,
                                            windows: Bw, tokens: N, channels: C, heads: nH)
                } else {
                    WindowAttention.forward(out: &o, probs: &pf, qkv: f32(qkv), bias: f32(bias), mask: nil, windowsPerImage: nW,
                                            windows: Bw, tokens: N, channels: C, heads: nH)
                }
                assertNear(name + " out", o, out, tol: 1e-5); assertNear(name + " P", pf, P, tol: 1e-5)
                var dq = [Float](repeating: 7, count: qkv.count), db = [Float](repeating: 0, count: nH * N * N)
                WindowAttention.backward(dqkv: &dq, dBias: &db, dOut: f32(dOut), qkv: f32(qkv), probs: pf,
                                         windows: Bw, tokens: N, channels: C, heads: nH)
                assertNear(name + " dqkv", dq, dqkv, tol: 1e-4); assertNear(name + " dbias", db, dBias, tol: 1e-4)
            }
        }
    }

    /// Partition/reverse against a direct implementation of pad + torch.roll + window split,
    /// and their adjointness (so each is a correct backward of the other).
    func testWindowPartitionReverse() {
        for (H, ws, s) in [(24, 7, 3), (6, 7, 3), (3, 7, 0), (3, 3, 0), (8, 4, 2), (5, 4, 2)] {
            let B = 2, C = 5
            let g = WindowGeometry(height: H, width: H, windowSize: ws, shift: s)
            let Hp = g.paddedHeight
            XCTAssertEqual(Hp % ws, 0); XCTAssertTrue(Hp >= H && Hp < H + ws)
            let x = f32(FiniteDifference.randoms(B * H * H * C, seed: 16))
            var win = [Float](repeating: 0, count: B * g.windowsPerImage * ws * ws * C)
            for t in threadCounts {
                Compute.setThreads(t)
                g.partition(windows: &win, tokens: x, batch: B, channels: C)
                // Direct reference: padded[h][w] = x or 0; rolled[p] = padded[(p + s) mod Hp].
                let nWw = Hp / ws
                for b in 0..<B { for hp in 0..<Hp { for wp in 0..<Hp { for c in 0..<C {
                    let h = (hp + s) % Hp, w = (wp + s) % Hp
                    let want: Float = (h < H && w < H) ? x[((b * H + h) * H + w) * C + c] : 0
                    let slot = ((hp / ws) * nWw + wp / ws) * ws * ws + (hp % ws) * ws + wp % ws
                    XCTAssertEqual(win[(b * g.windowsPerImage * ws * ws + slot) * C + c], want)
                } } } }
                var back = [Float](repeating: 0, count: x.count)
                g.reverse(tokens: &back, windows: win, batch: B, channels: C, accumulate: false)
                XCTAssertEqual(back, x, "reverse(partition(x)) = x for H=\(H) ws=\(ws) s=\(s)")
                // Adjoint: <partition(x), y> = <x, reverse(y)>.
                let y = f32(FiniteDifference.randoms(win.count, seed: 17))
                var ry = [Float](repeating: 0, count: x.count)
                g.reverse(tokens: &ry, windows: y, batch: B, channels: C, accumulate: false)
                let lhs = zip(win, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let rhs = zip(x, ry).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)))
            }
        }
    }

    func testRelativeBiasGatherScatterAdjoint() {
        for (ws, nH) in [(3, 1), (4, 3), (7, 2)] {
            let idx = RelativePosition.index(windowSize: ws), T = (2 * ws - 1) * (2 * ws - 1), NN = ws * ws * ws * ws
            let table = f32(FiniteDifference.randoms(T * nH, seed: 18)), dB = f32(FiniteDifference.randoms(nH * NN, seed: 19))
            var bias = [Float](repeating: 0, count: nH * NN), dT = [Float](repeating: 0, count: T * nH)
            RelativePosition.gather(bias: &bias, table: table, index: idx, heads: nH)
            RelativePosition.scatter(dTable: &dT, dBias: dB, index: idx, heads: nH)
            let lhs = zip(bias, dB).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(table, dT).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)))
            for i in 0..<(ws * ws) { XCTAssertEqual(bias[i * ws * ws + i], table[Int(idx[0]) * nH], "diagonal uses the centre row") }
        }
    }

    func testPatchMergeAndPooling() {
        for (H, W) in [(4, 4), (7, 7), (3, 5)] {
            let B = 2, C = 3, H2 = (H + 1) / 2, W2 = (W + 1) / 2
            let x = f32(FiniteDifference.randoms(B * H * W * C, seed: 20))
            var out = [Float](repeating: 0, count: B * H2 * W2 * 4 * C)
            PatchMerge.gather(out: &out, x: x, batch: B, height: H, width: W, channels: C)
            // TL, BL, TR, BR: (row, col) offsets (0,0), (1,0), (0,1), (1,1).
            for b in 0..<B { for i in 0..<H2 { for j in 0..<W2 { for (q, (dh, dw)) in [(0, 0), (1, 0), (0, 1), (1, 1)].enumerated() {
                for c in 0..<C {
                    let h = 2 * i + dh, w = 2 * j + dw
                    let want: Float = (h < H && w < W) ? x[((b * H + h) * W + w) * C + c] : 0
                    XCTAssertEqual(out[((b * H2 + i) * W2 + j) * 4 * C + q * C + c], want)
                }
            } } } }
            let y = f32(FiniteDifference.randoms(out.count, seed: 21))
            var dx = [Float](repeating: 0, count: x.count)
            PatchMerge.scatter(dx: &dx, dOut: y, batch: B, height: H, width: W, channels: C)
            let lhs = zip(out, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x, dx).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4)
        }
        let B = 2, L = 5, C = 11
        let t = f32(FiniteDifference.randoms(B * L * C, seed: 22))
        var pooled = [Float](repeating: 0, count: B * C)
        TokenPool.meanForward(pooled: &pooled, tokens: t, batch: B, tokens: L, channels: C)
        for b in 0..<B { for c in 0..<C {
            XCTAssertEqual(pooled[b * C + c], (0..<L).reduce(Float(0)) { $0 + t[(b * L + $1) * C + c] } / Float(L), accuracy: 1e-6)
        } }
        var dt = [Float](repeating: 1, count: B * L * C)
        TokenPool.meanBackward(dTokens: &dt, dPooled: [Float](repeating: 5, count: B * C), batch: B, tokens: L, channels: C)
        XCTAssertTrue(dt.allSatisfy { abs($0 - 2) < 1e-6 }, "mean backward adds dPooled/L")
    }

    func testPatchEmbedIm2colMatchesConvolution() {
        let B = 2, Cin = 3, H = 8, W = 6, p = 2, Cout = 5, K = Cin * p * p
        let img = f32(FiniteDifference.randoms(B * Cin * H * W, seed: 23))
        let w = f32(FiniteDifference.randoms(Cout * K, seed: 24))
        var cols = [Float](repeating: 0, count: B * (H / p) * (W / p) * K)
        PatchEmbed.im2col(cols: &cols, image: img, batch: B, channels: Cin, height: H, width: W, patch: p)
        var y = [Float](repeating: 0, count: B * (H / p) * (W / p) * Cout)
        Linear.forward(y: &y, x: cols, weight: w, bias: nil, rows: B * (H / p) * (W / p), inFeatures: K, outFeatures: Cout)
        for b in 0..<B { for gh in 0..<(H / p) { for gw in 0..<(W / p) { for o in 0..<Cout {
            var s: Double = 0
            for c in 0..<Cin { for kh in 0..<p { for kw in 0..<p {
                s += Double(img[((b * Cin + c) * H + gh * p + kh) * W + gw * p + kw]) * Double(w[((o * Cin + c) * p + kh) * p + kw])
            } } }
            XCTAssertEqual(Double(y[((b * (H / p) + gh) * (W / p) + gw) * Cout + o]), s, accuracy: 1e-5)
        } } } }
    }

    func testDropPathIsKeyedAndUnbiased() {
        let B = 4000
        let keys = (0..<B).map { UInt64($0) &* 7919 }
        var s1 = [Float](repeating: 0, count: B), s2 = s1, s3 = s1
        keys.withUnsafeBufferPointer { k in
            DropPath.scales(into: &s1, sampleKeys: k.baseAddress!, batch: B, rate: 0.25, site: 3)
            DropPath.scales(into: &s2, sampleKeys: k.baseAddress!, batch: B, rate: 0.25, site: 3)
            DropPath.scales(into: &s3, sampleKeys: k.baseAddress!, batch: B, rate: 0.25, site: 4)
        }
        XCTAssertEqual(s1, s2, "same keys → same masks")
        XCTAssertNotEqual(s1, s3, "different sites draw independent masks")
        XCTAssertTrue(s1.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
        let mean = s1.reduce(0, +) / Float(B)
        XCTAssertEqual(mean, 1, accuracy: 0.05, "kept samples are rescaled by 1/keep")
        // Residual forward/backward with scales.
        let L = 3, C = 9
        let x = f32(FiniteDifference.randoms(2 * L * C, seed: 25)), br = f32(FiniteDifference.randoms(2 * L * C, seed: 26))
        let sc: [Float] = [0, 2]
        var y = [Float](repeating: 0, count: x.count), db = y
        DropPath.residualForward(y: &y, x: x, branch: br, scales: sc, batch: 2, rowsPerSample: L, channels: C)
        DropPath.branchBackward(dBranch: &db, dy: [Float](repeating: 1, count: x.count), scales: sc, batch: 2, rowsPerSample: L, channels: C)
        for i in 0..<x.count { XCTAssertEqual(y[i], x[i] + sc[i / (L * C)] * br[i], accuracy: 1e-6); XCTAssertEqual(db[i], sc[i / (L * C)]) }
    }
}
