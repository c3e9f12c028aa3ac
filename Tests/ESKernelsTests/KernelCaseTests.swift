// Kernels against their Double references, driven by the case table (ESTestSupport/
// KernelCases.swift): for each case (1) central finite differences on the reference backward,
// (2) the fast Float forward and backward against the reference, at 1 and 2 threads. The data-
// movement kernels below (window partition, relative bias, patch merge, pooling, im2col,
// DropPath) are checked against direct implementations and by adjointness.
import XCTest
import ESKernels
import ESKernelCases
import ESTestSupport
import ESTestAssertions

private func f32(_ a: [Double]) -> [Float] { a.map(Float.init) }

/// The one driver for the case table.
private func runCases(_ cases: [KernelCase], file: StaticString = #filePath, line: UInt = #line) {
    for c in cases {
        let x = c.inputs.map(\.values)
        let grads = c.referenceBackward(x, c.upstream)
        for k in x.indices {
            let r = FiniteDifference.check(x[k], analytic: grads[k]) { v in
                var moved = x
                moved[k] = v
                return FiniteDifference.weighted(c.reference(moved)[0], c.upstream)
            }
            XCTAssertLessThan(r.maxRelError, 1e-6, "\(c.name) \(c.gradientChecks[k].name): finite-difference mismatch at \(r.worst)",
                              file: file, line: line)
        }
        let outputs = c.reference(x)
        for t in KernelCase.threadCounts {
            Compute.setThreads(t)
            let fast = c.instantiate()
            fast.forward()
            for (j, check) in c.outputChecks.enumerated() {
                assertClose("\(c.name) \(check.name) (threads \(t))", got: fast.outputs[j].array, want: f32(outputs[j]),
                            atol: check.tolerance, rtol: check.tolerance, file: file, line: line)
            }
            fast.backward()
            for (j, check) in c.gradientChecks.enumerated() {
                let what = check.accumulates ? "\(check.name) (+= onto \(check.initial))" : check.name
                assertClose("\(c.name) \(what) (threads \(t))", got: fast.gradients[j].array,
                            want: f32(c.expectedGradient(j, reference: grads[j])), atol: check.tolerance, rtol: check.tolerance,
                            file: file, line: line)
            }
        }
    }
}

final class KernelCaseTests: XCTestCase {
    override func tearDown() { Compute.setThreads(1) }
    let threadCounts = KernelCase.threadCounts

    func testLinear() { runCases(KernelCases.linear()) }

    /// The same cases all through OpenBLAS with 4-row blocks: several blocks per thread and a
    /// partial last one (the production block of 1024 rows is larger than any case).
    func testLinearInRowBlocksThroughOpenBLAS() {
        let saved = (Linear.rowBlock, SmallGEMM.engine)
        Linear.rowBlock = 4
        SmallGEMM.engine = .openblas
        defer { (Linear.rowBlock, SmallGEMM.engine) = saved }
        runCases(KernelCases.linear())
    }

    func testLayerNorm() { runCases(KernelCases.layerNorm()) }

    func testGELUAndSoftmax() { runCases(KernelCases.gelu() + KernelCases.softmax()) }

    /// The backbone's backward recomputes act = GELU(hidden) with `forwardWithSlope`; fc2's weight
    /// gradient is only the forward's if that recompute is the forward's act bit for bit. Over
    /// 2 threads, with an odd tail and values where erf saturates.
    func testGELUSlopeFormRecomputesTheForwardBitForBit() {
        let n = 3 * 4096 + 13
        var rng = KeyedRandom(77)
        let x = FloatBuffer(count: n)
        for i in 0..<n { x.pointer[i] = Float(rng.uniform(-9, 9)) }
        let y = FloatBuffer(count: n), y2 = FloatBuffer(count: n), slope = FloatBuffer(count: n)
        Compute.setThreads(2)
        defer { Compute.setThreads(1) }
        GELU.forward(y: y.pointer, x: x.pointer, count: n)
        GELU.forwardWithSlope(y: y2.pointer, slope: slope.pointer, x: x.pointer, count: n)
        let differing = (0..<n).filter { y.pointer[$0].bitPattern != y2.pointer[$0].bitPattern }
        XCTAssertEqual(differing.count, 0, "first differing index: \(differing.first ?? -1)")
    }

    func testWindowAttention() { runCases(KernelCases.windowAttention()) }

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

    /// Padding slots: `partition(fill:)` writes the given row there (and keeps the token rows of
    /// the zero-fill partition); `addPaddingRows` sums exactly the rows `reverse` drops, so
    /// reverse + padding sum = the column sums over all slots (the qkv bias gradient).
    func testPaddingSlotsFillAndSum() {
        for (H, ws, s) in [(2, 4, 0), (2, 4, 2), (6, 4, 2), (5, 7, 3), (8, 4, 2)] {
            let B = 2, C = 6
            let g = WindowGeometry(height: H, width: H, windowSize: ws, shift: s)
            XCTAssertEqual(g.hasPadding, H % ws != 0, "H=\(H) ws=\(ws)")
            let x = f32(FiniteDifference.randoms(B * H * H * C, seed: 18))
            let fill = f32(FiniteDifference.randoms(C, seed: 19))
            let slots = B * g.windowsPerImage * ws * ws
            var zeroFilled = [Float](repeating: 0, count: slots * C), filled = zeroFilled
            g.partition(windows: &zeroFilled, tokens: x, batch: B, channels: C)
            g.partition(windows: &filled, tokens: x, batch: B, channels: C, fill: fill)
            var paddingSlots = 0
            for k in 0..<slots {
                let pad = g.tokenMap[k % g.tokenMap.count] < 0
                if pad { paddingSlots += 1 }
                XCTAssertEqual(Array(filled[(k * C)..<((k + 1) * C)]), pad ? fill : Array(zeroFilled[(k * C)..<((k + 1) * C)]))
            }
            XCTAssertEqual(paddingSlots, B * (g.paddedHeight * g.paddedWidth - H * H))
            let y = f32(FiniteDifference.randoms(slots * C, seed: 20))
            var tokens = [Float](repeating: 0, count: x.count), sum = [Float](repeating: 0.5, count: C)
            g.reverse(tokens: &tokens, windows: y, batch: B, channels: C, accumulate: false)
            g.addPaddingRows(into: &sum, windows: y, batch: B, channels: C)
            for c in 0..<C {
                let all = (0..<slots).reduce(0.0) { $0 + Double(y[$1 * C + c]) }
                let kept = (0..<(B * H * H)).reduce(0.0) { $0 + Double(tokens[$1 * C + c]) }
                // addPaddingRows adds n Float rows of size ≤ 1 onto 0.5: its rounding is at most
                // (n + 1)²·2⁻²⁴, against 1e-5·slots: n 24 / 32 slots 3.9e-5 vs 3.2e-4; n 56 / 128
                // 1.9e-4 vs 1.3e-3; n 48 / 98 1.4e-4 vs 9.8e-4. `kept` and `all` are Double sums.
                XCTAssertEqual(Double(sum[c]) - 0.5 + kept, all, accuracy: 1e-5 * Double(slots), "H=\(H) c=\(c)")
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
