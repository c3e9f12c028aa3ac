// Token-grid operations around the Swin stages:
//   * patch embedding as a GEMM: im2col of non-overlapping p×p patches. cols(B·L, Cin·p·p) with
//     column order (cin, kh, kw) = PyTorch conv weight [out, in, kh, kw] flattened; tokens
//     row-major (t = gh·Gw + gw). Only a forward is needed: the image takes no gradient.
//   * patch merging gather: x(B, H, W, C) → (B, ⌈H/2⌉·⌈W/2⌉, 4C), sub-grids in the order
//     TL (even row, even col), BL (odd, even), TR (even, odd), BR (odd, odd); odd sizes are
//     zero-padded at the bottom/right. Its backward scatters (=) and drops padding.
//   * mean pooling over tokens and its backward (+=, the token map fans out to two heads).
//   * DropPath residual: y = x + s_b · branch with s_b ∈ {0, 1/keep} per sample; backward
//     dbranch = s_b · dy (=), the residual gradient passes through unchanged.

public enum PatchEmbed {
    public static func im2col(cols: UnsafeMutablePointer<Float>, image: UnsafePointer<Float>,
                              batch B: Int, channels Cin: Int, height H: Int, width W: Int, patch p: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.layout, t0) }
        let Gh = H / p, Gw = W / p, K = Cin * p * p
        Compute.pool.parallelFor(B * Gh, minPerThread: 4) { r, _ in
            for bg in r {
                let b = bg / Gh, gh = bg % Gh
                for gw in 0..<Gw {
                    let dst = cols + ((b * Gh + gh) * Gw + gw) * K
                    for c in 0..<Cin { for kh in 0..<p {
                        let src = image + ((b * Cin + c) * H + gh * p + kh) * W + gw * p
                        (dst + (c * p + kh) * p).update(from: src, count: p)
                    } }
                }
            }
        }
    }
}

public enum PatchMerge {
    @inline(__always) static func source(_ q: Int, _ i: Int, _ j: Int) -> (Int, Int) {
        // q: 0 TL, 1 BL, 2 TR, 3 BR
        (2 * i + (q & 1), 2 * j + (q >> 1))
    }

    public static func gather(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                              batch B: Int, height H: Int, width W: Int, channels C: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.layout, t0) }
        let H2 = (H + 1) / 2, W2 = (W + 1) / 2
        Compute.pool.parallelFor(B * H2, minPerThread: 4) { r, _ in
            for bi in r {
                let b = bi / H2, i = bi % H2
                for j in 0..<W2 { for q in 0..<4 {
                    let (h, w) = source(q, i, j)
                    let dst = out + ((b * H2 + i) * W2 + j) * 4 * C + q * C
                    if h < H && w < W { dst.update(from: x + ((b * H + h) * W + w) * C, count: C) }
                    else { dst.update(repeating: 0, count: C) }
                } }
            }
        }
    }

    public static func scatter(dx: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                               batch B: Int, height H: Int, width W: Int, channels C: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.layout, t0) }
        let H2 = (H + 1) / 2, W2 = (W + 1) / 2
        Compute.pool.parallelFor(B * H2, minPerThread: 4) { r, _ in
            for bi in r {
                let b = bi / H2, i = bi % H2
                for j in 0..<W2 { for q in 0..<4 {
                    let (h, w) = source(q, i, j)
                    if h < H && w < W {
                        (dx + ((b * H + h) * W + w) * C).update(from: dOut + ((b * H2 + i) * W2 + j) * 4 * C + q * C, count: C)
                    }
                } }
            }
        }
    }
}

public enum TokenPool {
    /// pooled(B, C) = mean over L of tokens(B, L, C).
    public static func meanForward(pooled: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Float>,
                                   batch B: Int, tokens L: Int, channels C: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.residual, t0) }
        let inv = 1 / Float(L)
        for b in 0..<B {
            let dst = pooled + b * C
            dst.update(repeating: 0, count: C)
            for l in 0..<L { addInto(tokens + (b * L + l) * C, dst, C) }
            for c in 0..<C { dst[c] *= inv }
        }
    }

    /// dTokens(B, L, C) += dPooled(B, C) / L.
    public static func meanBackward(dTokens: UnsafeMutablePointer<Float>, dPooled: UnsafePointer<Float>,
                                    batch B: Int, tokens L: Int, channels C: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.residual, t0) }
        let inv = 1 / Float(L)
        for b in 0..<B { for l in 0..<L { axpy(inv, dPooled + b * C, dTokens + (b * L + l) * C, C) } }
    }
}

public enum DropPath {
    /// Per-sample scales for one DropPath site: 0 with probability `rate`, else 1/(1 − rate).
    /// Drawn from `KeyedRandom(sampleKey[b], site)`: masks depend only on the caller's per-sample
    /// keys (e.g. derived from seed, epoch, global sample index, crop), never on rank or thread.
    public static func scales(into s: UnsafeMutablePointer<Float>, sampleKeys: UnsafePointer<UInt64>,
                              batch B: Int, rate: Float, site: UInt64) {
        if rate <= 0 { s.update(repeating: 1, count: B); return }
        let keep = 1 - rate
        for b in 0..<B {
            var rng = KeyedRandom(sampleKeys[b], site)
            s[b] = Float(rng.uniform()) < keep ? 1 / keep : 0
        }
    }

    /// y(B, L, C) = x + s_b · branch. `y` may alias `x`.
    public static func residualForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                       branch: UnsafePointer<Float>, scales: UnsafePointer<Float>?,
                                       batch B: Int, rowsPerSample L: Int, channels C: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.residual, t0) }
        Compute.pool.parallelFor(B * L, minPerThread: 64) { r, _ in
            for row in r {
                let s = scales?[row / L] ?? 1
                let yr = y + row * C, xr = x + row * C, br = branch + row * C
                var i = 0
                let s8 = V8(repeating: s)
                while i + 8 <= C { store8(load8(xr + i).addingProduct(s8, load8(br + i)), yr + i); i += 8 }
                while i < C { yr[i] = xr[i] + s * br[i]; i += 1 }
            }
        }
    }

    /// dBranch = s_b · dy (=).
    public static func branchBackward(dBranch: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                      scales: UnsafePointer<Float>?, batch B: Int, rowsPerSample L: Int, channels C: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.residual, t0) }
        Compute.pool.parallelFor(B * L, minPerThread: 64) { r, _ in
            for row in r { scaleInto(scales?[row / L] ?? 1, dy + row * C, dBranch + row * C, C) }
        }
    }
}
