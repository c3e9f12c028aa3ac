// Elementwise activations and row softmax.
//   GELU (exact, erf form): y = ½x(1 + erf(x/√2));  dy/dx = ½(1 + erf(x/√2)) + x·φ(x)
//   softmax over rows of length N:  p = exp(x − max) / Σ;  dx = p ⊙ (dp − Σ_j p_j dp_j)
// Backward writes dx (=).
import Foundation

public enum GELU {
    public static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count n: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.gelu, t0) }
        Compute.pool.parallelFor(n, minPerThread: 4096) { r, _ in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let v = load8(x + i)
                store8(0.5 * v * (1 + verf(v * 0.70710678118654752)), y + i)
                i += 8
            }
            while i < r.upperBound { let v = x[i]; y[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)); i += 1 }
        }
    }

    public static func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                x: UnsafePointer<Float>, count n: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.gelu, t0) }
        Compute.pool.parallelFor(n, minPerThread: 4096) { r, _ in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let v = load8(x + i)
                let g = vexp(-0.5 * v * v)                   // e^(−x²/2) = e^(−(x/√2)²): the pdf's and erf's
                let cdf = 0.5 * (1 + verf(v * 0.70710678118654752, gauss: g))
                let pdf = 0.3989422804014327 * g
                store8(load8(dy + i) * (cdf + v * pdf), dx + i)
                i += 8
            }
            while i < r.upperBound {
                let v = x[i]
                let cdf = 0.5 * (1 + erff(v * 0.70710678118654752))
                let pdf = 0.3989422804014327 * expf(-0.5 * v * v)
                dx[i] = dy[i] * (cdf + v * pdf)
                i += 1
            }
        }
    }
}

extension GELU {
    /// y = GELU(x), bit for bit as `forward`, and slope = dGELU/dx in the same pass (one erf and
    /// one exponential shared by both): the backward's recompute of y, fused with the slope its
    /// gradient needs. `slope` may alias nothing else.
    public static func forwardWithSlope(y: UnsafeMutablePointer<Float>, slope: UnsafeMutablePointer<Float>,
                                        x: UnsafePointer<Float>, count n: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.gelu, t0) }
        Compute.pool.parallelFor(n, minPerThread: 4096) { r, _ in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let v = load8(x + i), u = v * 0.70710678118654752
                let g = vexp(-u * u)                          // e^(−x²/2): erf's and the pdf's
                let e = verf(u, gauss: g)
                store8(0.5 * v * (1 + e), y + i)
                store8(0.5 * (1 + e) + v * (0.3989422804014327 * g), slope + i)
                i += 8
            }
            while i < r.upperBound {
                let v = x[i]
                let cdf = 0.5 * (1 + erff(v * 0.70710678118654752))
                y[i] = v * cdf
                slope[i] = cdf + v * (0.3989422804014327 * expf(-0.5 * v * v))
                i += 1
            }
        }
    }

    /// dx = dy ⊙ slope (slope from `forwardWithSlope`); dx may alias dy or slope.
    public static func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                slope: UnsafePointer<Float>, count n: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.gelu, t0) }
        Compute.pool.parallelFor(n, minPerThread: 1 << 14) { r, _ in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { store8(load8(dy + i) * load8(slope + i), dx + i); i += 8 }
            while i < r.upperBound { dx[i] = dy[i] * slope[i]; i += 1 }
        }
    }
}

public enum Softmax {
    /// max_j p[j] over n elements, eight lanes at a time.
    @inline(__always)
    static func rowMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var m8 = V8(repeating: -.infinity), j = 0
        while j + 8 <= n { m8 = vmax(m8, load8(p + j)); j += 8 }
        var m = m8.max()
        while j < n { m = max(m, p[j]); j += 1 }
        return m
    }

    /// In-place softmax of one row of length n (vectorised max, exp and scale).
    @inline(__always)
    public static func row(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        let m = rowMax(p, n)
        let mv = V8(repeating: m)
        var s8 = V8(), s: Float = 0
        var j = 0
        while j + 8 <= n { let e = vexp(load8(p + j) - mv); store8(e, p + j); s8 += e; j += 8 }
        while j < n { let e = expf(p[j] - m); p[j] = e; s += e; j += 1 }
        let inv = 1 / (s + s8.sum())
        scaleInto(inv, p, p, n)
    }

    public static func forward(_ x: UnsafeMutablePointer<Float>, rows: Int, cols n: Int) {
        Compute.pool.parallelFor(rows, minPerThread: 16) { r, _ in
            for i in r { row(x + i * n, n) }
        }
    }

    /// dx = p ⊙ (dp − ⟨p, dp⟩) per row.
    public static func backward(dx: UnsafeMutablePointer<Float>, dp: UnsafePointer<Float>,
                                p: UnsafePointer<Float>, rows: Int, cols n: Int) {
        Compute.pool.parallelFor(rows, minPerThread: 16) { r, _ in
            for i in r {
                let pr = p + i * n, gr = dp + i * n, dr = dx + i * n
                let s = dot(pr, gr, n)
                for j in 0..<n { dr[j] = pr[j] * (gr[j] - s) }
            }
        }
    }
}

public enum ActivationRef {
    public static func gelu(_ x: [Double]) -> [Double] { x.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) } }
    public static func geluBackward(_ dy: [Double], _ x: [Double]) -> [Double] {
        zip(dy, x).map { g, v in g * (0.5 * (1 + erf(v / 2.0.squareRoot())) + v * exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()) }
    }
    public static func softmax(_ x: [Double], rows: Int, cols n: Int) -> [Double] {
        var y = x
        for r in 0..<rows {
            let m = x[(r * n)..<(r * n + n)].max()!
            let s = x[(r * n)..<(r * n + n)].reduce(0) { $0 + exp($1 - m) }
            for j in 0..<n { y[r * n + j] = exp(x[r * n + j] - m) / s }
        }
        return y
    }
    public static func softmaxBackward(_ dp: [Double], _ p: [Double], rows: Int, cols n: Int) -> [Double] {
        var dx = p
        for r in 0..<rows {
            var s = 0.0
            for j in 0..<n { s += p[r * n + j] * dp[r * n + j] }
            for j in 0..<n { dx[r * n + j] = p[r * n + j] * (dp[r * n + j] - s) }
        }
        return dx
    }
}
