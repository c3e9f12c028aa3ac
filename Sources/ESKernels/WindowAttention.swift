// Window multi-head self-attention core (between the qkv and proj linears).
// Shapes: Bw = B·nW windows, N = ws² tokens, C channels, nH heads, d = C/nH, scale = d^−½.
//   qkv(Bw, N, 3C): column = which·C + h·d + e (which ∈ q, k, v), as torch's reshape.
//   forward : S_ij = (scale·q_i)·k_j + bias[h,i,j] + mask[w,i,j];  P = softmax_j(S);  o_i = Σ_j P_ij v_j
//             out(Bw, N, C) with heads concatenated; saves P(Bw, nH, N, N).
//   backward: dP_ij = dout_i·v_j;  dv_j = Σ_i P_ij dout_i;  dS = P ⊙ (dP − rowsum(P ⊙ dP))
//             dq_i = scale Σ_j dS_ij k_j;  dk_j = scale Σ_i dS_ij q_i;  dbias[h] += Σ_windows dS
//   dqkv is written (=); dBias (nH, N, N) is accumulated (+=). The mask carries no gradient.
// The window index for the mask is bw mod nW (windows are batch-major).

public enum WindowAttention {
    public static func forward(out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                               qkv: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                               mask: UnsafePointer<Float>?, windowsPerImage nW: Int,
                               windows Bw: Int, tokens N: Int, channels C: Int, heads nH: Int) {
        let d = C / nH, C3 = 3 * C, NN = N * N
        let scale = 1 / Float(d).squareRoot()
        let pool = Compute.pool
        pool.parallelFor(Bw) { range, tid in
            let qs = pool.scratch(tid, N * d)        // scaled q of one head
            for bw in range {
                let base = qkv + bw * N * C3
                let mw = mask.map { $0 + (bw % nW) * NN }
                for h in 0..<nH {
                    let P = probs + (bw * nH + h) * NN
                    let bh = bias + h * NN
                    for i in 0..<N { scaleInto(scale, base + i * C3 + h * d, qs + i * d, d) }
                    for i in 0..<N {
                        let qi = qs + i * d, row = P + i * N
                        for j in 0..<N { row[j] = dot(qi, base + j * C3 + C + h * d, d) + bh[i * N + j] }
                        if let mw { addInto(mw + i * N, row, N) }
                        Softmax.row(row, N)
                        let oi = out + (bw * N + i) * C + h * d
                        oi.update(repeating: 0, count: d)
                        for j in 0..<N { axpy(row[j], base + j * C3 + 2 * C + h * d, oi, d) }
                    }
                }
            }
        }
    }

    public static func backward(dqkv: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
                                dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                                probs: UnsafePointer<Float>, windows Bw: Int, tokens N: Int,
                                channels C: Int, heads nH: Int) {
        let d = C / nH, C3 = 3 * C, NN = N * N
        let scale = 1 / Float(d).squareRoot()
        let pool = Compute.pool
        let used = min(pool.threadCount, Bw)
        pool.parallelFor(Bw) { range, tid in
            let scratch = pool.scratch(tid, nH * NN + NN)
            let dbPart = scratch, dS = scratch + nH * NN
            dbPart.update(repeating: 0, count: nH * NN)
            for bw in range {
                let base = qkv + bw * N * C3, dbase = dqkv + bw * N * C3
                dbase.update(repeating: 0, count: N * C3)
                for h in 0..<nH {
                    let P = probs + (bw * nH + h) * NN
                    for i in 0..<N {
                        let doi = dOut + (bw * N + i) * C + h * d
                        let prow = P + i * N, srow = dS + i * N
                        var acc: Float = 0
                        for j in 0..<N {
                            let dp = dot(doi, base + j * C3 + 2 * C + h * d, d)
                            srow[j] = dp
                            acc += prow[j] * dp
                            axpy(prow[j], doi, dbase + j * C3 + 2 * C + h * d, d)   // dv_j
                        }
                        for j in 0..<N { srow[j] = prow[j] * (srow[j] - acc) }
                    }
                    let db = dbPart + h * NN
                    addInto(dS, db, NN)
                    for i in 0..<N {
                        let srow = dS + i * N
                        let dqi = dbase + i * C3 + h * d, qi = base + i * C3 + h * d
                        for j in 0..<N {
                            let s = srow[j] * scale
                            axpy(s, base + j * C3 + C + h * d, dqi, d)            // dq_i
                            axpy(s, qi, dbase + j * C3 + C + h * d, d)            // dk_j
                        }
                    }
                }
            }
        }
        for t in 0..<used { addInto(pool.scratch(t, nH * NN + NN), dBias, nH * NN) }
    }
}

/// Double reference of the same core, over full arrays.
public enum WindowAttentionRef {
    public static func forward(_ qkv: [Double], _ bias: [Double], _ mask: [Double]?, nW: Int,
                               Bw: Int, N: Int, C: Int, nH: Int) -> (out: [Double], probs: [Double]) {
        let d = C / nH, C3 = 3 * C, scale = 1 / Double(d).squareRoot()
        var out = [Double](repeating: 0, count: Bw * N * C), P = [Double](repeating: 0, count: Bw * nH * N * N)
        for bw in 0..<Bw { for h in 0..<nH { for i in 0..<N {
            var row = [Double](repeating: 0, count: N)
            for j in 0..<N {
                var s = 0.0
                for e in 0..<d { s += scale * qkv[(bw * N + i) * C3 + h * d + e] * qkv[(bw * N + j) * C3 + C + h * d + e] }
                row[j] = s + bias[(h * N + i) * N + j] + (mask?[((bw % nW) * N + i) * N + j] ?? 0)
            }
            let p = ActivationRef.softmax(row, rows: 1, cols: N)
            for j in 0..<N {
                P[((bw * nH + h) * N + i) * N + j] = p[j]
                for e in 0..<d { out[(bw * N + i) * C + h * d + e] += p[j] * qkv[(bw * N + j) * C3 + 2 * C + h * d + e] }
            }
        } } }
        return (out, P)
    }

    /// Returns (dqkv, dBias).
    public static func backward(_ dOut: [Double], _ qkv: [Double], _ P: [Double], Bw: Int, N: Int, C: Int, nH: Int)
        -> ([Double], [Double]) {
        let d = C / nH, C3 = 3 * C, scale = 1 / Double(d).squareRoot()
        var dqkv = [Double](repeating: 0, count: qkv.count), dBias = [Double](repeating: 0, count: nH * N * N)
        for bw in 0..<Bw { for h in 0..<nH {
            var dP = [Double](repeating: 0, count: N * N), p = [Double](repeating: 0, count: N * N)
            for i in 0..<N { for j in 0..<N {
                p[i * N + j] = P[((bw * nH + h) * N + i) * N + j]
                for e in 0..<d {
                    dP[i * N + j] += dOut[(bw * N + i) * C + h * d + e] * qkv[(bw * N + j) * C3 + 2 * C + h * d + e]
                    dqkv[(bw * N + j) * C3 + 2 * C + h * d + e] += p[i * N + j] * dOut[(bw * N + i) * C + h * d + e]
                }
            } }
            let dS = ActivationRef.softmaxBackward(dP, p, rows: N, cols: N)
            for i in 0..<N { for j in 0..<N {
                dBias[(h * N + i) * N + j] += dS[i * N + j]
                for e in 0..<d {
                    dqkv[(bw * N + i) * C3 + h * d + e] += scale * dS[i * N + j] * qkv[(bw * N + j) * C3 + C + h * d + e]
                    dqkv[(bw * N + j) * C3 + C + h * d + e] += scale * dS[i * N + j] * qkv[(bw * N + i) * C3 + h * d + e]
                }
            } }
        } }
        return (dqkv, dBias)
    }
}
