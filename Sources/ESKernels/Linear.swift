// Linear layers through OpenBLAS sgemm, PyTorch layout W[out, in].
//   forward : y(M, out) = x(M, in) · Wᵀ + b
//   backward: dx(M, in) (=, or += when accumulating) dy · W
//             dW(out, in) += dyᵀ · x        db(out) += Σ_rows dy
// Accumulation rule: parameter gradients always +=; dx is = unless `accumulateInput`.
import COpenBLAS

public enum Linear {
    public static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               rows M: Int, inFeatures K: Int, outFeatures N: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.gemm, t0) }
        if M == 0 { return }
        var beta: Float = 0
        if let b = bias {
            Compute.pool.parallelFor(M, minPerThread: 64) { r, _ in
                for m in r { (y + m * N).update(from: b, count: N) }
            }
            beta = 1
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(M), Int32(N), Int32(K),
                    1, x, Int32(K), weight, Int32(K), beta, y, Int32(N))
    }

    public static func backward(dx: UnsafeMutablePointer<Float>?, accumulateInput: Bool = false,
                                dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
                                dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                rows M: Int, inFeatures K: Int, outFeatures N: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.gemm, t0) }
        if M == 0 { return }
        if let dx {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(M), Int32(K), Int32(N),
                        1, dy, Int32(N), weight, Int32(K), accumulateInput ? 1 : 0, dx, Int32(K))
        }
        if let dWeight {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(N), Int32(K), Int32(M),
                        1, dy, Int32(N), x, Int32(K), 1, dWeight, Int32(K))
        }
        if let dBias { columnSums(dy, rows: M, cols: N, into: dBias) }
    }

    /// out[c] += Σ_m a[m, c] via sgemv against a ones vector.
    public static func columnSums(_ a: UnsafePointer<Float>, rows M: Int, cols N: Int,
                                  into out: UnsafeMutablePointer<Float>) {
        let ones = Ones.atLeast(M)
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(M), Int32(N), 1, a, Int32(N), ones, 1, 1, out, 1)
    }
}

/// A grow-only vector of ones for BLAS reductions.
enum Ones {
    nonisolated(unsafe) static var buffer = FloatBuffer(count: 0)
    static func atLeast(_ n: Int) -> UnsafePointer<Float> {
        if buffer.count < n {
            buffer = FloatBuffer(count: max(n, 2 * buffer.count))
            buffer.pointer.update(repeating: 1, count: buffer.count)
        }
        return UnsafePointer(buffer.pointer)
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
