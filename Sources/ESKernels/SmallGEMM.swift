// The linear layers' y and dx through libxsmm's JIT kernels when the weight is small
// (K·N ≤ maxWeights: at swin_mini sizes, every layer of the first two stages). libxsmm is
// column-major, so with row-major tensors
//   y(M, N) = x·Wᵀ + b  is  Cᵀ(N × T) = Wᵀ(N × K) · xᵀ(K × T) per tile of T rows, with Wᵀ a
//                       transposed copy of W made once per call (beta 1 over the bias rows);
//   dx(M, K) = dy·W     is  dxᵀ(K × T) = W(K × N as stored) · dyᵀ(N × T), no copy.
// Measured single-threaded against OpenBLAS's SkylakeX kernels in 1024-row calls on an AVX-512
// Xeon: 1.3–1.6× on the first stage (K or N = 48), 1.05–1.3× on the second, mixed beyond
// (docs/results.md §8.7). `engine = .openblas` (or ESVIT_SMALL_GEMM=openblas) turns it off.
import CXSMM
import Foundation

public enum SmallGEMM {
    public enum Engine: String, Sendable { case openblas, libxsmm }

    /// Which library runs the small products (a variable so that tests and benches can compare).
    nonisolated(unsafe) public static var engine: Engine =
        ProcessInfo.processInfo.environment["ESVIT_SMALL_GEMM"] == "openblas" ? .openblas : .libxsmm

    /// Largest K·N handed to libxsmm (96 × 384: swin_mini's second-stage MLP).
    public static let maxWeights = 96 * 384
    /// Rows of y or dx per kernel call.
    static let tile = 64

    static func applies(_ K: Int, _ N: Int) -> Bool { engine == .libxsmm && K * N <= maxWeights }

    /// The kernel for a tile of `rows` rows (libxsmm caches them; nil when it cannot make one).
    static func kernel(m: Int, rows: Int, k: Int, lda: Int, ldb: Int, ldc: Int, beta: Float) -> UnsafeRawPointer? {
        esvit_xsmm_dispatch(Int32(m), Int32(rows), Int32(k), Int32(lda), Int32(ldb), Int32(ldc), beta)
    }

    /// Full tiles' and the last partial tile's kernels, or nil (then the caller uses OpenBLAS).
    static func kernels(m: Int, rows M: Int, k: Int, lda: Int, ldb: Int, ldc: Int, beta: Float) -> (UnsafeRawPointer, UnsafeRawPointer?)? {
        let rest = M % tile
        guard let full = kernel(m: m, rows: tile, k: k, lda: lda, ldb: ldb, ldc: ldc, beta: beta) else { return nil }
        if rest == 0 { return (full, nil) }
        guard let tail = kernel(m: m, rows: rest, k: k, lda: lda, ldb: ldb, ldc: ldc, beta: beta) else { return nil }
        return (full, tail)
    }

    /// Runs `body(first row, rows, kernel)` over the tiles of M rows on the pool.
    @inline(__always)
    static func overTiles(_ M: Int, _ k: (UnsafeRawPointer, UnsafeRawPointer?), _ body: (Int, Int, UnsafeRawPointer) -> Void) {
        let tiles = (M + tile - 1) / tile
        Compute.pool.parallelFor(tiles, minPerThread: 1) { r, _ in
            for t in r {
                let m0 = t * tile, rows = min(tile, M - m0)
                body(m0, rows, rows == tile ? k.0 : k.1!)
            }
        }
    }

    /// y = x·Wᵀ (+ b); false when it does not apply (the caller runs OpenBLAS).
    static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, rows M: Int, inFeatures K: Int, outFeatures N: Int) -> Bool {
        guard applies(K, N), let k = kernels(m: N, rows: M, k: K, lda: N, ldb: K, ldc: N, beta: bias == nil ? 0 : 1) else { return false }
        let wt = TransposedWeights.of(weight, rows: N, cols: K)
        overTiles(M, k) { m0, rows, kernel in
            if let b = bias { Linear.fillBias(y, b, rows: m0..<(m0 + rows), outFeatures: N) }
            esvit_xsmm_call(kernel, wt, x + m0 * K, y + m0 * N)
        }
        return true
    }

    /// dx (=, or += when accumulating) dy·W; false when it does not apply.
    static func backwardInput(dx: UnsafeMutablePointer<Float>, accumulate: Bool, dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              rows M: Int, inFeatures K: Int, outFeatures N: Int) -> Bool {
        guard applies(K, N), let k = kernels(m: K, rows: M, k: N, lda: K, ldb: N, ldc: K, beta: accumulate ? 1 : 0) else { return false }
        overTiles(M, k) { m0, _, kernel in esvit_xsmm_call(kernel, weight, dy + m0 * N, dx + m0 * K) }
        return true
    }
}

/// Wᵀ for the current forward call, in the calling thread's pool's grow-only buffer; never call
/// from inside a parallel region.
enum TransposedWeights {
    static func of(_ w: UnsafePointer<Float>, rows N: Int, cols K: Int) -> UnsafePointer<Float> {
        let pool = Compute.pool
        if pool.transposed.count < N * K { pool.transposed = FloatBuffer(count: max(N * K, SmallGEMM.maxWeights)) }
        let t = pool.transposed.pointer
        for n in 0..<N { for k in 0..<K { t[k * N + n] = w[n * K + k] } }
        return UnsafePointer(t)
    }
}
