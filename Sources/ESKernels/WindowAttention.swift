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
        let t0 = Profiler.start(); defer { Profiler.stop(.attention, t0) }
        let d = C / nH, C3 = 3 * C, NN = N * N
        let scale = 1 / Float(d).squareRoot()
        let pool = Compute.pool
        pool.parallelFor(Bw) { range, tid in
            let scratch = pool.scratch(tid, 2 * N * d)
            let qs = scratch, kT = scratch + N * d       // scaled q (N, d); kᵀ (d, N)
            for bw in range {
                let base = qkv + bw * N * C3
                let mw = mask.map { $0 + (bw % nW) * NN }
                for h in 0..<nH {
                    let P = probs + (bw * nH + h) * NN
                    for i in 0..<N {
                        scaleInto(scale, base + i * C3 + h * d, qs + i * d, d)
                        let kj = base + i * C3 + C + h * d
                        for e in 0..<d { kT[e * N + i] = kj[e] }
                    }
                    // S = bias (+ mask) + qs·kᵀ; P = softmax(S) row by row; out = P·v.
                    P.update(from: bias + h * NN, count: NN)
                    if let mw { addInto(mw, P, NN) }
                    rowsTimesMatrix(P, ldo: N, qs, lda: d, kT, ldb: N, rows: N, k: d, n: N, accumulate: true)
                    for i in 0..<N { Softmax.row(P + i * N, N) }
                    rowsTimesMatrix(out + bw * N * C + h * d, ldo: C, P, lda: N, base + 2 * C + h * d, ldb: C3, rows: N, k: N, n: d, accumulate: false)
                }
            }
        }
    }

    public static func backward(dqkv: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
                                dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                                probs: UnsafePointer<Float>, windows Bw: Int, tokens N: Int,
                                channels C: Int, heads nH: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.attention, t0) }
        let d = C / nH, C3 = 3 * C, NN = N * N
        let scale = 1 / Float(d).squareRoot()
        let pool = Compute.pool
        let used = min(pool.threadCount, Bw)
        let scratchSize = nH * NN + 3 * NN + d * N
        pool.parallelFor(Bw) { range, tid in
            let scratch = pool.scratch(tid, scratchSize)
            let dbPart = scratch                          // (nH, N, N) partial dBias
            let dS = scratch + nH * NN                    // (N, N)
            let dST = dS + NN, PT = dST + NN              // transposes (N, N)
            let vT = PT + NN                              // vᵀ (d, N)
            dbPart.update(repeating: 0, count: nH * NN)
            for bw in range {
                let base = qkv + bw * N * C3, dbase = dqkv + bw * N * C3
                let dO = dOut + bw * N * C
                for h in 0..<nH {
                    let P = probs + (bw * nH + h) * NN
                    for j in 0..<N {
                        let vj = base + j * C3 + 2 * C + h * d
                        for e in 0..<d { vT[e * N + j] = vj[e] }
                        for i in 0..<N { PT[j * N + i] = P[i * N + j] }
                    }
                    // dP = dout·vᵀ, then dS_i = P_i ⊙ (dP_i − ⟨P_i, dP_i⟩).
                    rowsTimesMatrix(dS, ldo: N, dO + h * d, lda: C, vT, ldb: N, rows: N, k: d, n: N, accumulate: false)
                    for i in 0..<N {
                        let srow = dS + i * N, prow = P + i * N
                        let acc = dot(prow, srow, N)
                        for j in 0..<N { srow[j] = prow[j] * (srow[j] - acc) }
                    }
                    addInto(dS, dbPart + h * NN, NN)
                    scaleInto(scale, dS, dS, NN)
                    for i in 0..<N { for j in 0..<N { dST[j * N + i] = dS[i * N + j] } }
                    // dv = Pᵀ·dout;  dq = scale·dS·k;  dk = scale·dSᵀ·q.
                    rowsTimesMatrix(dbase + 2 * C + h * d, ldo: C3, PT, lda: N, dO + h * d, ldb: C, rows: N, k: N, n: d, accumulate: false)
                    rowsTimesMatrix(dbase + h * d, ldo: C3, dS, lda: N, base + C + h * d, ldb: C3, rows: N, k: N, n: d, accumulate: false)
                    rowsTimesMatrix(dbase + C + h * d, ldo: C3, dST, lda: N, base + h * d, ldb: C3, rows: N, k: N, n: d, accumulate: false)
                }
            }
        }
        for t in 0..<used { addInto(pool.scratch(t, scratchSize), dBias, nH * NN) }
    }
}

/// out[r·ldo + c] (+)= Σ_k a[r·lda + k] · b[k·ldb + c] for r < rows, c < n: a small matrix
/// product. Four rows at a time share each loaded row of b (16 or 8 columns held in registers:
/// eight or four independent FMA chains, enough to cover the FMA latency); the rows left over
/// and the last n mod 8 columns go through rowTimesMatrix.
@inline(__always) @usableFromInline
func rowsTimesMatrix(_ out: UnsafeMutablePointer<Float>, ldo: Int, _ a: UnsafePointer<Float>, lda: Int,
                     _ b: UnsafePointer<Float>, ldb: Int, rows: Int, k K: Int, n: Int, accumulate: Bool) {
    var r = 0
    let n8 = n & ~7
    while r + 4 <= rows {
        let a0 = a + r * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda
        let o0 = out + r * ldo, o1 = o0 + ldo, o2 = o1 + ldo, o3 = o2 + ldo
        var c = 0
        while c + 16 <= n8 {
            var x0 = V8(), x1 = V8(), y0 = V8(), y1 = V8(), z0 = V8(), z1 = V8(), w0 = V8(), w1 = V8()
            if accumulate {
                x0 = load8(o0 + c); x1 = load8(o0 + c + 8); y0 = load8(o1 + c); y1 = load8(o1 + c + 8)
                z0 = load8(o2 + c); z1 = load8(o2 + c + 8); w0 = load8(o3 + c); w1 = load8(o3 + c + 8)
            }
            for k in 0..<K {
                let p = b + k * ldb + c, b0 = load8(p), b1 = load8(p + 8)
                let s0 = V8(repeating: a0[k]), s1 = V8(repeating: a1[k]), s2 = V8(repeating: a2[k]), s3 = V8(repeating: a3[k])
                x0 = x0.addingProduct(s0, b0); x1 = x1.addingProduct(s0, b1)
                y0 = y0.addingProduct(s1, b0); y1 = y1.addingProduct(s1, b1)
                z0 = z0.addingProduct(s2, b0); z1 = z1.addingProduct(s2, b1)
                w0 = w0.addingProduct(s3, b0); w1 = w1.addingProduct(s3, b1)
            }
            store8(x0, o0 + c); store8(x1, o0 + c + 8); store8(y0, o1 + c); store8(y1, o1 + c + 8)
            store8(z0, o2 + c); store8(z1, o2 + c + 8); store8(w0, o3 + c); store8(w1, o3 + c + 8)
            c += 16
        }
        if c + 8 <= n8 {
            var x = accumulate ? load8(o0 + c) : V8(), y = accumulate ? load8(o1 + c) : V8()
            var z = accumulate ? load8(o2 + c) : V8(), w = accumulate ? load8(o3 + c) : V8()
            for k in 0..<K {
                let b0 = load8(b + k * ldb + c)
                x = x.addingProduct(V8(repeating: a0[k]), b0); y = y.addingProduct(V8(repeating: a1[k]), b0)
                z = z.addingProduct(V8(repeating: a2[k]), b0); w = w.addingProduct(V8(repeating: a3[k]), b0)
            }
            store8(x, o0 + c); store8(y, o1 + c); store8(z, o2 + c); store8(w, o3 + c)
            c += 8
        }
        if c < n {
            rowTimesMatrix(o0 + c, a0, b + c, ldb: ldb, k: K, n: n - c, accumulate: accumulate)
            rowTimesMatrix(o1 + c, a1, b + c, ldb: ldb, k: K, n: n - c, accumulate: accumulate)
            rowTimesMatrix(o2 + c, a2, b + c, ldb: ldb, k: K, n: n - c, accumulate: accumulate)
            rowTimesMatrix(o3 + c, a3, b + c, ldb: ldb, k: K, n: n - c, accumulate: accumulate)
        }
        r += 4
    }
    while r < rows {
        rowTimesMatrix(out + r * ldo, a + r * lda, b, ldb: ldb, k: K, n: n, accumulate: accumulate)
        r += 1
    }
}

/// out[c] (+)= Σ_k a[k] · b[k·ldb + c] for c < n: a row vector times a K×n matrix (row stride
/// ldb). Column chunks of 32, 16 and 8 stay in SIMD registers across the k loop; narrow chunks
/// unroll k so that about four independent FMA chains are always in flight (FMA latency bound).
@inline(__always) @usableFromInline
func rowTimesMatrix(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                    ldb: Int, k K: Int, n: Int, accumulate: Bool) {
    var c = 0
    while c + 32 <= n {
        var a0 = accumulate ? load8(out + c) : V8(), a1 = accumulate ? load8(out + c + 8) : V8()
        var a2 = accumulate ? load8(out + c + 16) : V8(), a3 = accumulate ? load8(out + c + 24) : V8()
        for k in 0..<K {
            let s = V8(repeating: a[k]), r = b + k * ldb + c
            a0 = a0.addingProduct(s, load8(r)); a1 = a1.addingProduct(s, load8(r + 8))
            a2 = a2.addingProduct(s, load8(r + 16)); a3 = a3.addingProduct(s, load8(r + 24))
        }
        store8(a0, out + c); store8(a1, out + c + 8); store8(a2, out + c + 16); store8(a3, out + c + 24)
        c += 32
    }
    if c + 16 <= n {
        var a0 = accumulate ? load8(out + c) : V8(), a1 = accumulate ? load8(out + c + 8) : V8()
        var b0 = V8(), b1 = V8()
        var k = 0
        while k + 2 <= K {
            let s = V8(repeating: a[k]), t = V8(repeating: a[k + 1])
            let r = b + k * ldb + c, q = r + ldb
            a0 = a0.addingProduct(s, load8(r)); a1 = a1.addingProduct(s, load8(r + 8))
            b0 = b0.addingProduct(t, load8(q)); b1 = b1.addingProduct(t, load8(q + 8))
            k += 2
        }
        if k < K {
            let s = V8(repeating: a[k]), r = b + k * ldb + c
            a0 = a0.addingProduct(s, load8(r)); a1 = a1.addingProduct(s, load8(r + 8))
        }
        store8(a0 + b0, out + c); store8(a1 + b1, out + c + 8)
        c += 16
    }
    if c + 8 <= n {
        var a0 = accumulate ? load8(out + c) : V8(), a1 = V8(), a2 = V8(), a3 = V8()
        var k = 0
        while k + 4 <= K {
            let r = b + k * ldb + c
            a0 = a0.addingProduct(V8(repeating: a[k]), load8(r))
            a1 = a1.addingProduct(V8(repeating: a[k + 1]), load8(r + ldb))
            a2 = a2.addingProduct(V8(repeating: a[k + 2]), load8(r + 2 * ldb))
            a3 = a3.addingProduct(V8(repeating: a[k + 3]), load8(r + 3 * ldb))
            k += 4
        }
        while k < K { a0 = a0.addingProduct(V8(repeating: a[k]), load8(b + k * ldb + c)); k += 1 }
        store8((a0 + a1) + (a2 + a3), out + c)
        c += 8
    }
    while c < n {
        var s: Float = accumulate ? out[c] : 0
        for k in 0..<K { s += a[k] * b[k * ldb + c] }
        out[c] = s
        c += 1
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
