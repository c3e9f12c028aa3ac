// Kernels of the DINO projection head and its loss (docs/algorithm.md §2, §4):
//   * row L2 normalisation: y = x / max(‖x‖, eps) (eps 1e-12, F.normalize); backward
//     dx = (dy − y⟨dy, y⟩)/‖x‖ when ‖x‖ > eps, else dy/eps.
//   * weight normalisation per output row: W_o = g_o v_o / ‖v_o‖; backward from dW:
//     dg_o = ⟨dW_o, v_o⟩/‖v_o‖,  dv_o = (g_o/‖v_o‖)(dW_o − (⟨dW_o, v_o⟩/‖v_o‖²) v_o)   (+=)
//   * soft-target cross-entropy rows: loss_r = −Σ_k t_rk · log_softmax(s_r/τ)_k, with
//     d loss_r / d s_r = (Σ_k t_rk · softmax(s_r/τ) − t_r)/τ. Targets are sums of rows of a
//     probability matrix, so both EsViT losses reduce to this.
// Accumulation: dx, dlogits are written (=); dg, dv accumulate (+=).
import Foundation

public enum L2Normalize {
    public static func forward(y: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>,
                               x: UnsafePointer<Float>, rows: Int, dim D: Int, eps: Float = 1e-12) {
        Compute.pool.parallelFor(rows, minPerThread: 16) { r, _ in
            for i in r {
                let n = max(dot(x + i * D, x + i * D, D).squareRoot(), eps)
                norms[i] = n
                scaleInto(1 / n, x + i * D, y + i * D, D)
            }
        }
    }

    public static func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>,
                                norms: UnsafePointer<Float>, rows: Int, dim D: Int, eps: Float = 1e-12) {
        Compute.pool.parallelFor(rows, minPerThread: 16) { r, _ in
            for i in r {
                let n = norms[i], yi = y + i * D, gi = dy + i * D, di = dx + i * D
                if n > eps {
                    let s = dot(gi, yi, D)
                    for k in 0..<D { di[k] = (gi[k] - yi[k] * s) / n }
                } else {
                    scaleInto(1 / eps, gi, di, D)
                }
            }
        }
    }
}

public enum WeightNorm {
    /// w(K, D) = g_o · v_o / ‖v_o‖; saves ‖v_o‖ in `norms`.
    public static func forward(w: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>,
                               g: UnsafePointer<Float>, v: UnsafePointer<Float>, rows K: Int, dim D: Int) {
        Compute.pool.parallelFor(K, minPerThread: 64) { r, _ in
            for o in r {
                let n = dot(v + o * D, v + o * D, D).squareRoot()
                norms[o] = n
                scaleInto(g[o] / n, v + o * D, w + o * D, D)
            }
        }
    }

    public static func backward(dg: UnsafeMutablePointer<Float>?, dv: UnsafeMutablePointer<Float>, dW: UnsafePointer<Float>,
                                g: UnsafePointer<Float>, v: UnsafePointer<Float>, norms: UnsafePointer<Float>, rows K: Int, dim D: Int) {
        Compute.pool.parallelFor(K, minPerThread: 64) { r, _ in
            for o in r {
                let n = norms[o], vo = v + o * D, dwo = dW + o * D
                let s = dot(dwo, vo, D)
                dg?[o] += s / n
                let a = g[o] / n, b = g[o] * s / (n * n * n)
                let dvo = dv + o * D
                for k in 0..<D { dvo[k] += a * dwo[k] - b * vo[k] }
            }
        }
    }
}

public enum SoftCrossEntropy {
    /// For each row r of logits s(R, K): with target t_r = Σ_{j ∈ index[r, :], j ≥ 0} T[j, :],
    /// returns Σ_r weight[r] · loss_r and overwrites s_r with weight[r] · d loss_r / d s_r.
    /// `targetIndex` is (R, targetsPerRow) rows of T, −1 for unused slots; T is (rowsT, K).
    public static func rowsInPlace(logits s: UnsafeMutablePointer<Float>, rows R: Int, classes K: Int, temperature tau: Float,
                                   targetMatrix T: UnsafePointer<Float>, targetIndex: UnsafePointer<Int32>, targetsPerRow: Int,
                                   weights: UnsafePointer<Float>) -> Double {
        let pool = Compute.pool
        var partial = [Double](repeating: 0, count: pool.threadCount)
        partial.withUnsafeMutableBufferPointer { part in
            let pp = part.baseAddress!
            pool.parallelFor(R) { range, tid in
                let t = pool.scratch(tid, K)
                var acc = 0.0
                for r in range {
                    let row = s + r * K
                    t.update(repeating: 0, count: K)
                    var mass: Float = 0
                    for q in 0..<targetsPerRow {
                        let j = Int(targetIndex[r * targetsPerRow + q])
                        if j >= 0 { addInto(T + j * K, t, K); mass += 1 }
                    }
                    // log_softmax(s/τ) = s/τ − m − log Σ exp(s/τ − m)
                    scaleInto(1 / tau, row, row, K)
                    let m = Softmax.rowMax(row, K)
                    var z8 = V8(), k = 0
                    let m8 = V8(repeating: m)
                    while k + 8 <= K { z8 += vexp(load8(row + k) - m8); k += 8 }
                    var z = Double(z8.sum())
                    while k < K { z += Double(expf(row[k] - m)); k += 1 }
                    let lse = Double(m) + log(z)
                    // Σ_k t_k (lse − s_k) = lse·Σt − Σ t·s: eight Float lanes per block of 256, blocks added in Double.
                    var tsum = 0.0, ts = 0.0
                    k = 0
                    while k < K {
                        let end = min(K, k + 256)
                        var tsum8 = V8(), ts8 = V8()
                        while k + 8 <= end { let tk = load8(t + k); tsum8 += tk; ts8 = ts8.addingProduct(tk, load8(row + k)); k += 8 }
                        tsum += Double(tsum8.sum()); ts += Double(ts8.sum())
                        while k < end { tsum += Double(t[k]); ts += Double(t[k]) * Double(row[k]); k += 1 }
                    }
                    let loss = lse * tsum - ts
                    let w = weights[r]
                    acc += Double(w) * loss
                    let scale = w / tau, lseF = Float(lse)
                    k = 0
                    let lse8 = V8(repeating: lseF), mass8 = V8(repeating: mass), sc8 = V8(repeating: scale)
                    while k + 8 <= K { store8(sc8 * (mass8 * vexp(load8(row + k) - lse8) - load8(t + k)), row + k); k += 8 }
                    while k < K { row[k] = scale * (mass * expf(row[k] - lseF) - t[k]); k += 1 }
                }
                pp[tid] += acc
            }
        }
        return partial.reduce(0, +)
    }
}

public enum HeadOpsRef {
    public static func l2normalize(_ x: [Double], rows: Int, D: Int, eps: Double = 1e-12) -> [Double] {
        var y = x
        for i in 0..<rows {
            let n = max((0..<D).reduce(0) { $0 + x[i * D + $1] * x[i * D + $1] }.squareRoot(), eps)
            for k in 0..<D { y[i * D + k] = x[i * D + k] / n }
        }
        return y
    }

    public static func weightNorm(g: [Double], v: [Double], K: Int, D: Int) -> [Double] {
        var w = v
        for o in 0..<K {
            let n = (0..<D).reduce(0) { $0 + v[o * D + $1] * v[o * D + $1] }.squareRoot()
            for k in 0..<D { w[o * D + k] = g[o] * v[o * D + k] / n }
        }
        return w
    }

    /// Σ_r w_r · (−⟨t_r, log_softmax(s_r/τ)⟩).
    public static func softCrossEntropy(_ s: [Double], _ t: [Double], weights: [Double], R: Int, K: Int, tau: Double) -> Double {
        var total = 0.0
        for r in 0..<R {
            let row = (0..<K).map { s[r * K + $0] / tau }
            let m = row.max()!
            let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
            total += weights[r] * (0..<K).reduce(0) { $0 - t[r * K + $1] * (row[$1] - lse) }
        }
        return total
    }
}
