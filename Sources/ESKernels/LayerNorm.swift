// LayerNorm over the last axis of a (rows, C) matrix, with affine weight γ and bias β.
//   forward : μ = mean(x), σ⁻¹ = 1/sqrt(var(x) + eps), x̂ = (x − μ)σ⁻¹, y = γ x̂ + β
//   backward: g = dy·γ;  dx = σ⁻¹ (g − mean(g) − x̂ · mean(g x̂))
//             dγ += Σ_rows dy x̂,  dβ += Σ_rows dy
// Saved: mean and rstd per row (x is kept by the caller). Row statistics use Double sums so
// results do not drift with C. dx is = unless `accumulate` (LayerNorms sit on residual streams).
import Foundation

public enum LayerNorm {
    public static func forward(y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                               rstd: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                               gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                               rows: Int, channels C: Int, eps: Float) {
        let t0 = Profiler.start(); defer { Profiler.stop(.layerNorm, t0) }
        Compute.pool.parallelFor(rows, minPerThread: 16) { range, _ in
            for r in range {
                let xr = x + r * C, yr = y + r * C
                var acc = V8(), i = 0
                while i + 8 <= C { acc += load8(xr + i); i += 8 }
                var s = Double(acc.sum())
                while i < C { s += Double(xr[i]); i += 1 }
                let mu = Float(s / Double(C))
                let m8 = V8(repeating: mu)
                var vacc = V8(); i = 0
                while i + 8 <= C { let d = load8(xr + i) - m8; vacc = vacc.addingProduct(d, d); i += 8 }
                var v = Double(vacc.sum())
                while i < C { let d = xr[i] - mu; v += Double(d * d); i += 1 }
                let rs = Float(1 / (v / Double(C) + Double(eps)).squareRoot())
                mean[r] = mu; rstd[r] = rs
                let r8 = V8(repeating: rs)
                i = 0
                while i + 8 <= C {
                    store8((load8(xr + i) - m8) * r8 * load8(gamma + i) + load8(beta + i), yr + i)
                    i += 8
                }
                while i < C { yr[i] = (xr[i] - mu) * rs * gamma[i] + beta[i]; i += 1 }
            }
        }
    }

    public static func backward(dx: UnsafeMutablePointer<Float>, accumulate: Bool,
                                dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>,
                                dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                gamma: UnsafePointer<Float>, rows: Int, channels C: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.layerNorm, t0) }
        let pool = Compute.pool
        let used = min(pool.threadCount, max(1, rows / 16))
        pool.parallelFor(rows, minPerThread: 16) { range, tid in
            let part = pool.scratch(tid, 2 * C)        // [dγ partial | dβ partial]
            part.update(repeating: 0, count: 2 * C)
            for r in range {
                let xr = x + r * C, gr = dy + r * C, dxr = dx + r * C
                let mu = mean[r], rs = rstd[r], mu8 = V8(repeating: mu), rs8 = V8(repeating: rs)
                var s1v = V8(), s2v = V8(), i = 0      // Σ g, Σ g x̂ (g = dy·γ), eight lanes
                while i + 8 <= C {
                    let xh = (load8(xr + i) - mu8) * rs8, d = load8(gr + i), g = d * load8(gamma + i)
                    s1v += g; s2v = s2v.addingProduct(g, xh)
                    store8(load8(part + i).addingProduct(d, xh), part + i)
                    store8(load8(part + C + i) + d, part + C + i)
                    i += 8
                }
                var s1 = s1v.sum(), s2 = s2v.sum()
                while i < C {
                    let xh = (xr[i] - mu) * rs, g = gr[i] * gamma[i]
                    s1 += g; s2 += g * xh
                    part[i] += gr[i] * xh
                    part[C + i] += gr[i]
                    i += 1
                }
                let m1 = s1 / Float(C), m2 = s2 / Float(C), m1v = V8(repeating: m1), m2v = V8(repeating: m2)
                i = 0
                while i + 8 <= C {
                    let xh = (load8(xr + i) - mu8) * rs8
                    let v = rs8 * (load8(gr + i) * load8(gamma + i) - m1v - xh * m2v)
                    store8(accumulate ? load8(dxr + i) + v : v, dxr + i)
                    i += 8
                }
                while i < C {
                    let v = rs * (gr[i] * gamma[i] - m1 - (xr[i] - mu) * rs * m2)
                    dxr[i] = accumulate ? dxr[i] + v : v
                    i += 1
                }
            }
        }
        for t in 0..<used {
            let part = pool.scratch(t, 2 * C)
            addInto(part, dGamma, C)
            addInto(part + C, dBeta, C)
        }
    }
}

public enum LayerNormRef {
    public static func forward(_ x: [Double], _ g: [Double], _ b: [Double], rows: Int, C: Int, eps: Double) -> [Double] {
        var y = x
        for r in 0..<rows {
            let row = x[(r * C)..<(r * C + C)]
            let mu = row.reduce(0, +) / Double(C)
            let v = row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(C)
            let rs = 1 / (v + eps).squareRoot()
            for i in 0..<C { y[r * C + i] = (x[r * C + i] - mu) * rs * g[i] + b[i] }
        }
        return y
    }

    /// Returns (dx, dγ, dβ).
    public static func backward(_ dy: [Double], _ x: [Double], _ g: [Double], rows: Int, C: Int, eps: Double)
        -> ([Double], [Double], [Double]) {
        var dx = x, dg = [Double](repeating: 0, count: C), db = [Double](repeating: 0, count: C)
        for r in 0..<rows {
            let row = x[(r * C)..<(r * C + C)]
            let mu = row.reduce(0, +) / Double(C)
            let v = row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(C)
            let rs = 1 / (v + eps).squareRoot()
            var m1 = 0.0, m2 = 0.0
            for i in 0..<C {
                let xh = (x[r * C + i] - mu) * rs, gi = dy[r * C + i] * g[i]
                m1 += gi; m2 += gi * xh
                dg[i] += dy[r * C + i] * xh; db[i] += dy[r * C + i]
            }
            m1 /= Double(C); m2 /= Double(C)
            for i in 0..<C {
                let xh = (x[r * C + i] - mu) * rs
                dx[r * C + i] = rs * (dy[r * C + i] * g[i] - m1 - xh * m2)
            }
        }
        return (dx, dg, db)
    }
}
