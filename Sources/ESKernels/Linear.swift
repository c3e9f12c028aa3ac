// Linear layers through OpenBLAS sgemm, PyTorch layout W[out, in].
//   forward : y(M, out) = x(M, in) · Wᵀ + b
//   backward: dx(M, in) (=, or += when accumulating) dy · W
//             dW(out, in) += dyᵀ · x        db(out) += Σ_rows dy
// Accumulation rule: parameter gradients always +=; dx is = unless `accumulateInput`.
// Threading: OpenBLAS runs single-threaded and our pool splits each product (rows of y and dx,
// output rows of dW): OpenBLAS's own workers spin after each call and, on a machine with as many
// threads as cores, starved the pool's workers (measured: 2 threads gave 1.17x over 1).
// Row blocking: each thread hands OpenBLAS at most `rowBlock` rows of y (and of dx) per call. On
// the tall, narrow products of Swin's first stage (16384 rows, K or N = 48) a single call ran
// 1.2–1.7× slower than the same product in 1024-row calls (docs/results.md §8.5).
// Small weights: y and dx of layers with K·N ≤ `SmallGEMM.maxWeights` go through libxsmm's JIT
// kernels over 64-row tiles instead (SmallGEMM.swift); dW and db stay with OpenBLAS.
import COpenBLAS

public enum Linear {
    /// Rows (or dW output rows) per thread below which a GEMM runs on the caller alone.
    static let minRowsPerThread = 32
    /// Rows of y or dx per OpenBLAS call (a variable only so that tests can shrink it).
    nonisolated(unsafe) public static var rowBlock = 1024

    /// y[m, :] = b for every row m in `rows` (the bias rows a beta-1 product adds to).
    @inline(__always) static func fillBias(_ y: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, rows: Range<Int>, outFeatures N: Int) {
        for m in rows { (y + m * N).update(from: b, count: N) }
    }

    /// `body(first row, rows)` over `range` in blocks of at most `rowBlock` rows.
    @inline(__always) static func inRowBlocks(_ range: Range<Int>, _ body: (Int, Int) -> Void) {
        var m0 = range.lowerBound
        while m0 < range.upperBound {
            let rows = min(rowBlock, range.upperBound - m0)
            body(m0, rows)
            m0 += rows
        }
    }

    public static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               rows M: Int, inFeatures K: Int, outFeatures N: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.gemm, t0) }
        if M == 0 { return }
        Profiler.countGEMM(2 * Double(M) * Double(K) * Double(N))
        if SmallGEMM.forward(y: y, x: x, weight: weight, bias: bias, rows: M, inFeatures: K, outFeatures: N) { return }
        Compute.pool.parallelFor(M, minPerThread: minRowsPerThread) { r, _ in
            inRowBlocks(r) { m0, rows in
                var beta: Float = 0
                if let b = bias {
                    fillBias(y, b, rows: m0..<(m0 + rows), outFeatures: N)
                    beta = 1
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(N), Int32(K),
                            1, x + m0 * K, Int32(K), weight, Int32(K), beta, y + m0 * N, Int32(N))
            }
        }
    }

    public static func backward(dx: UnsafeMutablePointer<Float>?, accumulateInput: Bool = false,
                                dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
                                dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                rows M: Int, inFeatures K: Int, outFeatures N: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.gemm, t0) }
        if M == 0 { return }
        Profiler.countGEMM(2 * Double(M) * Double(K) * Double(N) * Double((dx != nil ? 1 : 0) + (dWeight != nil ? 1 : 0)))
        if let dx, !SmallGEMM.backwardInput(dx: dx, accumulate: accumulateInput, dy: dy, weight: weight, rows: M, inFeatures: K, outFeatures: N) {
            Compute.pool.parallelFor(M, minPerThread: minRowsPerThread) { r, _ in
                inRowBlocks(r) { m0, rows in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(K), Int32(N),
                                1, dy + m0 * N, Int32(N), weight, Int32(K), accumulateInput ? 1 : 0, dx + m0 * K, Int32(K))
                }
            }
        }
        if dWeight != nil || dBias != nil {
            // Split over output features: thread t owns dW[n0..<n1, :] and db[n0..<n1].
            let ones = Ones.atLeast(M)              // grown here, on the calling thread
            Compute.pool.parallelFor(N, minPerThread: 8) { r, _ in
                let n0 = r.lowerBound, cols = r.count
                if let dWeight {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(cols), Int32(K), Int32(M),
                                1, dy + n0, Int32(N), x, Int32(K), 1, dWeight + n0 * K, Int32(K))
                }
                if let dBias {
                    cblas_sgemv(CblasRowMajor, CblasTrans, Int32(M), Int32(cols), 1, dy + n0, Int32(N),
                                ones, 1, 1, dBias + n0, 1)
                }
            }
        }
    }

    /// out[c] += Σ_m a[m, c] via sgemv against a ones vector.
    public static func columnSums(_ a: UnsafePointer<Float>, rows M: Int, cols N: Int,
                                  into out: UnsafeMutablePointer<Float>) {
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(M), Int32(N), 1, a, Int32(N), Ones.atLeast(M), 1, 1, out, 1)
    }
}

/// A grow-only vector of ones for BLAS reductions, one per pool (the calling thread's).
enum Ones {
    /// Grows when needed; never call it from inside a parallel region.
    static func atLeast(_ n: Int) -> UnsafePointer<Float> {
        let pool = Compute.pool
        if pool.ones.count < n {
            pool.ones = FloatBuffer(count: max(n, 2 * pool.ones.count, 1 << 16))
            pool.ones.pointer.update(repeating: 1, count: pool.ones.count)
        }
        return UnsafePointer(pool.ones.pointer)
    }
}

/// Double-precision scalar reference (tests and finite differences).
public enum LinearRef {
    public static func forward(_ x: [Double], _ w: [Double], _ b: [Double]?, M: Int, K: Int, N: Int) -> [Double] {
        var y = [Double](repeating: 0, count: M * N)
        for m in 0..<M { for n in 0..<N {
            var s = b?[n] ?? 0
            for k in 0..<K { s += x[m * K + k] * w[n * K + k] }
            y[m * N + n] = s
        } }
        return y
    }

    /// Returns (dx, dW, db).
    public static func backward(_ dy: [Double], _ x: [Double], _ w: [Double], M: Int, K: Int, N: Int)
        -> ([Double], [Double], [Double]) {
        var dx = [Double](repeating: 0, count: M * K), dw = [Double](repeating: 0, count: N * K)
        var db = [Double](repeating: 0, count: N)
        for m in 0..<M { for n in 0..<N {
            let g = dy[m * N + n]
            db[n] += g
            for k in 0..<K { dx[m * K + k] += g * w[n * K + k]; dw[n * K + k] += g * x[m * K + k] }
        } }
        return (dx, dw, db)
    }
}
