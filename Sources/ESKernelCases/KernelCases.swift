// The kernel case table: every kernel that has a Double reference (linear, layer norm, GELU,
// softmax, window attention) at its test sizes, with its inputs, the reference forward and
// backward, the fast Float kernels on preallocated buffers, and the tolerances the fast kernels
// are held to. ESKernelsTests/KernelCaseTests runs finite differences on each reference backward
// and compares the fast kernels against the reference at 1 and 2 threads; `esvit bench kernels`
// times the fast kernels at the same sizes (or enlarged by `scale`). Sizes are awkward on
// purpose: channel counts not a multiple of 8, a single head and several, 3×3 and 7×7 windows.
import ESKernels

/// Test inputs.
public enum KernelInputs {
    /// Deterministic pseudo-random Doubles in [−1, 1): the SplitMix64 stream from state `seed`, 53 bits each.
    public static func randoms(_ n: Int, seed: UInt64) -> [Double] {
        var g = SplitMix64(state: seed)
        return (0..<n).map { _ in Double(g.next() >> 11) * 0x1p-52 - 1 }
    }
}

/// A named reference input (Double).
public struct KernelTensor {
    public let name: String
    public let values: [Double]
    public init(_ name: String, _ values: [Double]) { self.name = name; self.values = values }
}

/// How one fast output or gradient is checked: within `tolerance` (used as atol and as rtol) of
/// the reference. Before the backward the fast gradient buffer holds `initial`; a kernel that
/// `accumulates` adds onto it, so it is expected to hold reference + initial, else the reference.
public struct KernelCheck {
    public let name: String
    public let tolerance: Double
    public let initial: Float
    public let accumulates: Bool
    public init(_ name: String, tolerance: Double, initial: Float = 0, accumulates: Bool = false) {
        self.name = name; self.tolerance = tolerance; self.initial = initial; self.accumulates = accumulates
    }
}

/// The fast kernels of one case, bound to preallocated buffers: `forward` and `backward` may be
/// called any number of times without allocating (backward needs a forward first).
public final class FastKernel {
    public let forward: () -> Void
    public let backward: () -> Void
    /// One buffer per reference output, then one per reference input's gradient.
    public let outputs: [FloatBuffer]
    public let gradients: [FloatBuffer]
    private let keepAlive: [FloatBuffer]

    public init(outputs: [FloatBuffer], gradients: [FloatBuffer], keepAlive: [FloatBuffer],
                forward: @escaping () -> Void, backward: @escaping () -> Void) {
        self.outputs = outputs; self.gradients = gradients; self.keepAlive = keepAlive
        self.forward = forward; self.backward = backward
    }
}

/// One kernel at one size.
public struct KernelCase {
    public let kernel: String
    public let size: String
    /// The inputs the reference backward differentiates, in its order.
    public let inputs: [KernelTensor]
    /// dy: the weights of the scalar loss Σ dy·y₀ whose gradient the backward computes.
    public let upstream: [Double]
    public let outputChecks: [KernelCheck]
    /// One per input.
    public let gradientChecks: [KernelCheck]
    /// The reference outputs (the first is the one `upstream` weights).
    public let reference: ([[Double]]) -> [[Double]]
    /// The reference gradients w.r.t. each input, given the inputs and dy.
    public let referenceBackward: ([[Double]], [Double]) -> [[Double]]
    /// Builds the fast kernel on Float copies of the inputs and dy (buffers are freshly allocated).
    let makeFast: ([FloatBuffer], FloatBuffer) -> FastKernel

    public init(kernel: String, size: String, inputs: [KernelTensor], upstream: [Double],
                outputChecks: [KernelCheck], gradientChecks: [KernelCheck],
                reference: @escaping ([[Double]]) -> [[Double]],
                referenceBackward: @escaping ([[Double]], [Double]) -> [[Double]],
                makeFast: @escaping ([FloatBuffer], FloatBuffer) -> FastKernel) {
        precondition(gradientChecks.count == inputs.count, "\(kernel): one gradient check per input")
        self.kernel = kernel; self.size = size; self.inputs = inputs; self.upstream = upstream
        self.outputChecks = outputChecks; self.gradientChecks = gradientChecks
        self.reference = reference; self.referenceBackward = referenceBackward; self.makeFast = makeFast
    }

    public var name: String { "\(kernel) \(size)" }

    /// Thread counts every case's fast kernels are checked at.
    public static let threadCounts = [1, 2]

    /// A fresh fast kernel: Float copies of the inputs, gradient buffers filled with their `initial`.
    public func instantiate() -> FastKernel {
        let fast = makeFast(inputs.map { FloatBuffer($0.values.map(Float.init)) }, FloatBuffer(upstream.map(Float.init)))
        precondition(fast.outputs.count == outputChecks.count && fast.gradients.count == gradientChecks.count)
        for (g, check) in zip(fast.gradients, gradientChecks) { g.pointer.update(repeating: check.initial, count: g.count) }
        return fast
    }

    /// What the fast gradient `index` must hold after one backward, given the reference gradient.
    public func expectedGradient(_ index: Int, reference g: [Double]) -> [Double] {
        let c = gradientChecks[index]
        return c.accumulates ? g.map { $0 + Double(c.initial) } : g
    }
}

/// The table. `scale` multiplies the row/batch dimension of every size (rows, windows, elements)
/// for benchmarks; tests use scale 1.
public enum KernelCases {
    public static func all(scale: Int = 1) -> [KernelCase] {
        linear(scale: scale) + layerNorm(scale: scale) + gelu(scale: scale) + softmax(scale: scale) + windowAttention(scale: scale)
    }

    /// (M, K, N): all run on SmallGEMM's libxsmm engine (the last with a full 64-row tile and a
    /// partial one, one per thread at 2 threads); KernelCaseTests also runs them all through
    /// OpenBLAS. K ≤ 20 and N ≤ 17 keep y and dx within the rigorous error bounds of
    /// docs/tolerances.md (T15, T16); M ≤ 70 keeps the finite differences' rounding (T14) small.
    public static func linear(scale: Int = 1) -> [KernelCase] {
        [(1, 5, 3), (7, 12, 17), (33, 20, 9), (70, 20, 9)].map { linear(M: $0.0 * scale, K: $0.1, N: $0.2) }
    }

    public static func layerNorm(scale: Int = 1) -> [KernelCase] {
        [(5, 3), (4, 12), (37, 20), (3, 37), (6, 48), (5, 96)].map { layerNorm(rows: $0.0 * scale, C: $0.1) }
    }

    public static func gelu(scale: Int = 1) -> [KernelCase] { [gelu(count: 37 * scale), geluSlope(count: 37 * scale)] }

    public static func softmax(scale: Int = 1) -> [KernelCase] {
        [(3, 1), (4, 5), (2, 49)].map { softmax(rows: $0.0 * scale, cols: $0.1) }
    }

    /// (Bw windows, N tokens, C channels, nH heads, masked); the last two are swin_mini's first
    /// stage (head dim 16) and Swin-T's (7×7 windows, head dim 32).
    public static func windowAttention(scale: Int = 1) -> [KernelCase] {
        [(2, 4, 6, 1, false), (4, 9, 6, 3, true), (2, 16, 12, 4, true), (3, 49, 20, 2, false), (2, 16, 48, 3, true), (2, 49, 96, 3, false)].map {
            windowAttention(Bw: $0.0 * scale, N: $0.1, C: $0.2, nH: $0.3, masked: $0.4)
        }
    }
}

// MARK: - The cases (inputs: KernelInputs.randoms with fixed seeds)

extension KernelCases {
    private static func randoms(_ n: Int, _ seed: UInt64) -> [Double] { KernelInputs.randoms(n, seed: seed) }

    /// y = x·Wᵀ + b. dx is written (buffer starts at 9), dW and db accumulate onto 0.
    static func linear(M: Int, K: Int, N: Int) -> KernelCase {
        KernelCase(
            kernel: "linear", size: "M\(M) K\(K) N\(N)",
            inputs: [KernelTensor("x", randoms(M * K, 1)), KernelTensor("W", randoms(N * K, 2)), KernelTensor("b", randoms(N, 3))],
            upstream: randoms(M * N, 4),
            outputChecks: [KernelCheck("y", tolerance: 1e-5)],
            gradientChecks: [KernelCheck("dx", tolerance: 1e-5, initial: 9), KernelCheck("dW", tolerance: 1e-5),
                             KernelCheck("db", tolerance: 1e-5)],
            reference: { [LinearRef.forward($0[0], $0[1], $0[2], M: M, K: K, N: N)] },
            referenceBackward: { i, dy in
                let g = LinearRef.backward(dy, i[0], i[1], M: M, K: K, N: N)
                return [g.0, g.1, g.2]
            },
            makeFast: { i, dy in
                let x = i[0].pointer, w = i[1].pointer, b = i[2].pointer, dyp = dy.pointer
                let y = FloatBuffer(count: M * N), dx = FloatBuffer(count: M * K), dw = FloatBuffer(count: N * K), db = FloatBuffer(count: N)
                let (yp, dxp, dwp, dbp) = (y.pointer, dx.pointer, dw.pointer, db.pointer)
                return FastKernel(outputs: [y], gradients: [dx, dw, db], keepAlive: i + [dy], forward: {
                    Linear.forward(y: yp, x: x, weight: w, bias: b, rows: M, inFeatures: K, outFeatures: N)
                }, backward: {
                    Linear.backward(dx: dxp, dWeight: dwp, dBias: dbp, dy: dyp, x: x, weight: w, rows: M, inFeatures: K, outFeatures: N)
                })
            })
    }

    /// LayerNorm over C channels, eps 1e-6; dx accumulates onto 1, dγ and dβ onto 0.
    static func layerNorm(rows: Int, C: Int) -> KernelCase {
        KernelCase(
            kernel: "layernorm", size: "rows\(rows) C\(C)",
            inputs: [KernelTensor("x", randoms(rows * C, 5).map { $0 * 3 + 0.5 }),
                     KernelTensor("γ", randoms(C, 6).map { 1 + 0.3 * $0 }), KernelTensor("β", randoms(C, 7))],
            upstream: randoms(rows * C, 8),
            outputChecks: [KernelCheck("y", tolerance: 1e-5)],
            gradientChecks: [KernelCheck("dx", tolerance: 2e-5, initial: 1, accumulates: true), KernelCheck("dγ", tolerance: 2e-5),
                             KernelCheck("dβ", tolerance: 1e-5)],
            reference: { [LayerNormRef.forward($0[0], $0[1], $0[2], rows: rows, C: C, eps: 1e-6)] },
            referenceBackward: { i, dy in
                let g = LayerNormRef.backward(dy, i[0], i[1], rows: rows, C: C, eps: 1e-6)
                return [g.0, g.1, g.2]
            },
            makeFast: { i, dy in
                let x = i[0].pointer, gamma = i[1].pointer, beta = i[2].pointer, dyp = dy.pointer
                let y = FloatBuffer(count: rows * C), mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
                let dx = FloatBuffer(count: rows * C), dg = FloatBuffer(count: C), db = FloatBuffer(count: C)
                let (yp, mp, rp, dxp, dgp, dbp) = (y.pointer, mean.pointer, rstd.pointer, dx.pointer, dg.pointer, db.pointer)
                return FastKernel(outputs: [y], gradients: [dx, dg, db], keepAlive: i + [dy, mean, rstd], forward: {
                    LayerNorm.forward(y: yp, mean: mp, rstd: rp, x: x, gamma: gamma, beta: beta, rows: rows, channels: C, eps: 1e-6)
                }, backward: {
                    LayerNorm.backward(dx: dxp, accumulate: true, dGamma: dgp, dBeta: dbp, dy: dyp, x: x, mean: mp, rstd: rp,
                                       gamma: gamma, rows: rows, channels: C)
                })
            })
    }

    /// Exact (erf) GELU, elementwise.
    static func gelu(count n: Int) -> KernelCase {
        geluCase("gelu", count: n) { i, dy in
            let x = i[0].pointer, dyp = dy.pointer
            let y = FloatBuffer(count: n), dx = FloatBuffer(count: n)
            let (yp, dxp) = (y.pointer, dx.pointer)
            return FastKernel(outputs: [y], gradients: [dx], keepAlive: i + [dy],
                              forward: { GELU.forward(y: yp, x: x, count: n) },
                              backward: { GELU.backward(dx: dxp, dy: dyp, x: x, count: n) })
        }
    }

    /// GELU as the backbone's backward runs it: y and its slope in one pass, then dx = dy ⊙ slope.
    static func geluSlope(count n: Int) -> KernelCase {
        geluCase("gelu (slope form)", count: n) { i, dy in
            let x = i[0].pointer, dyp = dy.pointer
            let y = FloatBuffer(count: n), slope = FloatBuffer(count: n), dx = FloatBuffer(count: n)
            let (yp, sp, dxp) = (y.pointer, slope.pointer, dx.pointer)
            return FastKernel(outputs: [y], gradients: [dx], keepAlive: i + [dy, slope],
                              forward: { GELU.forwardWithSlope(y: yp, slope: sp, x: x, count: n) },
                              backward: { GELU.backward(dx: dxp, dy: dyp, slope: sp, count: n) })
        }
    }

    /// The two GELU forms share their inputs, Double reference and tolerances.
    private static func geluCase(_ kernel: String, count n: Int,
                                 makeFast: @escaping ([FloatBuffer], FloatBuffer) -> FastKernel) -> KernelCase {
        KernelCase(
            kernel: kernel, size: "n\(n)",
            inputs: [KernelTensor("x", randoms(n, 9).map { $0 * 4 })], upstream: randoms(n, 10),
            outputChecks: [KernelCheck("y", tolerance: 1e-6)], gradientChecks: [KernelCheck("dx", tolerance: 1e-5)],
            reference: { [ActivationRef.gelu($0[0])] },
            referenceBackward: { i, dy in [ActivationRef.geluBackward(dy, i[0])] },
            makeFast: makeFast)
    }

    /// Row softmax. The fast forward is in place: it copies the scores into p, then normalises p.
    static func softmax(rows: Int, cols n: Int) -> KernelCase {
        KernelCase(
            kernel: "softmax", size: "rows\(rows) n\(n)",
            inputs: [KernelTensor("s", randoms(rows * n, 11).map { $0 * 5 })], upstream: randoms(rows * n, 12),
            outputChecks: [KernelCheck("p", tolerance: 1e-6)], gradientChecks: [KernelCheck("ds", tolerance: 1e-5)],
            reference: { [ActivationRef.softmax($0[0], rows: rows, cols: n)] },
            referenceBackward: { i, dy in
                [ActivationRef.softmaxBackward(dy, ActivationRef.softmax(i[0], rows: rows, cols: n), rows: rows, cols: n)]
            },
            makeFast: { i, dy in
                let s = i[0].pointer, dyp = dy.pointer
                let p = FloatBuffer(count: rows * n), ds = FloatBuffer(count: rows * n)
                let (pp, dsp) = (p.pointer, ds.pointer)
                return FastKernel(outputs: [p], gradients: [ds], keepAlive: i + [dy], forward: {
                    pp.update(from: s, count: rows * n)
                    Softmax.forward(pp, rows: rows, cols: n)
                }, backward: {
                    Softmax.backward(dx: dsp, dp: dyp, p: pp, rows: rows, cols: n)
                })
            })
    }

    /// Window attention core; masked cases use 2 windows per image and a fixed −100/0 mask. dqkv
    /// is written (buffer starts at 7), dbias accumulates onto 0.
    static func windowAttention(Bw: Int, N: Int, C: Int, nH: Int, masked: Bool) -> KernelCase {
        let nW = masked ? 2 : 1
        let mask: [Double]? = masked ? (0..<(nW * N * N)).map { ($0 * 7 % 5 == 0 && $0 % (N + 1) != 0) ? -100 : 0 } : nil
        return KernelCase(
            kernel: "attention", size: "Bw\(Bw) N\(N) C\(C) nH\(nH)" + (masked ? " masked" : ""),
            inputs: [KernelTensor("qkv", randoms(Bw * N * 3 * C, 13).map { $0 * 2 }), KernelTensor("bias", randoms(nH * N * N, 14))],
            upstream: randoms(Bw * N * C, 15),
            outputChecks: [KernelCheck("out", tolerance: 1e-5), KernelCheck("P", tolerance: 1e-5)],
            gradientChecks: [KernelCheck("dqkv", tolerance: 1e-4, initial: 7), KernelCheck("dbias", tolerance: 1e-4)],
            reference: {
                let r = WindowAttentionRef.forward($0[0], $0[1], mask, nW: nW, Bw: Bw, N: N, C: C, nH: nH)
                return [r.out, r.probs]
            },
            referenceBackward: { i, dy in
                let P = WindowAttentionRef.forward(i[0], i[1], mask, nW: nW, Bw: Bw, N: N, C: C, nH: nH).probs
                let g = WindowAttentionRef.backward(dy, i[0], P, Bw: Bw, N: N, C: C, nH: nH)
                return [g.0, g.1]
            },
            makeFast: { i, dy in
                let qkv = i[0].pointer, bias = i[1].pointer, dyp = dy.pointer
                let maskF = mask.map { FloatBuffer($0.map(Float.init)) }, mp = maskF.map { UnsafePointer($0.pointer) }
                let out = FloatBuffer(count: Bw * N * C), P = FloatBuffer(count: Bw * nH * N * N)
                let dq = FloatBuffer(count: Bw * N * 3 * C), db = FloatBuffer(count: nH * N * N)
                let (op, pp, dqp, dbp) = (out.pointer, P.pointer, dq.pointer, db.pointer)
                return FastKernel(outputs: [out, P], gradients: [dq, db], keepAlive: i + [dy] + (maskF.map { [$0] } ?? []), forward: {
                    WindowAttention.forward(out: op, probs: pp, qkv: qkv, bias: bias, mask: mp, windowsPerImage: nW,
                                            windows: Bw, tokens: N, channels: C, heads: nH)
                }, backward: {
                    WindowAttention.backward(dqkv: dqp, dBias: dbp, dOut: dyp, qkv: qkv, probs: pp,
                                             windows: Bw, tokens: N, channels: C, heads: nH)
                })
            })
    }
}
