// AdamW over a ParameterTable's arenas (PyTorch semantics, docs/algorithm.md §5.3-5.5), one loop per entry:
//   per-tensor clipping: n = ‖g‖₂; if c/(n + 1e-6) < 1, g ← g · c/(n + 1e-6)   (not global norm)
//   frozen entries (the heads' last layers during the first `freeze_last_layer` epochs, and
//   non-trainable entries) are skipped entirely: no update, no weight decay, no step count.
//   decoupled weight decay: p ← p (1 − lr·wd) for group-0 entries (≥2-D, not .bias)
//   m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  t ← t + 1 (per entry)
//   p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
// The teacher EMA is one fused loop over the whole arena: θ_t ← mθ_t + (1 − m)θ_s.
import ESKernels
import ESModel
import Foundation

public final class AdamW: @unchecked Sendable {
    public let table: ParameterTable
    public let beta1: Float, beta2: Float, eps: Float
    /// First and second moments, same layout as the parameters.
    public let m: FloatBuffer, v: FloatBuffer
    /// Step count per table entry.
    public var steps: [Int]

    public init(table: ParameterTable, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8) {
        self.table = table; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        m = table.makeArena(); v = table.makeArena()
        steps = Array(repeating: 0, count: table.entries.count)
    }

    /// Clips every trainable entry's gradient to norm `maxNorm` (tensor by tensor). Returns the
    /// pre-clipping norms (for logging). `maxNorm` ≤ 0 disables clipping.
    @discardableResult
    public static func clipPerTensor(_ grads: UnsafeMutablePointer<Float>, table: ParameterTable, maxNorm: Float) -> [Float] {
        var norms: [Float] = []
        norms.reserveCapacity(table.entries.count)
        for e in table.entries {
            let g = grads + e.offset
            let s = sumOfSquares(g, e.count)
            let n = Float(s.squareRoot())
            norms.append(n)
            guard maxNorm > 0, e.trainable else { continue }
            let coef = maxNorm / (n + 1e-6)
            if coef < 1 { for i in 0..<e.count { g[i] *= coef } }
        }
        return norms
    }

    /// Σ x²: ESKernels' SIMD dot per block of 256, the blocks summed in Double.
    static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
        var total = 0.0, i = 0
        while i < n {
            let k = min(256, n - i)
            total += Double(dot(x + i, x + i, k))
            i += k
        }
        return total
    }

    /// One AdamW step. `frozen(entry)` says whether to skip an entry this step.
    public func step(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, lr: Float, weightDecay: Float,
                     frozen: (ParameterEntry) -> Bool = { _ in false }) {
        for (k, e) in table.entries.enumerated() where e.trainable && !frozen(e) {
            steps[k] += 1
            let t = Float(steps[k])
            let bc1 = 1 - powf(beta1, t), bc2 = 1 - powf(beta2, t)
            let stepSize = lr / bc1, invSqrtBC2 = 1 / bc2.squareRoot()
            let decay: Float = e.decay ? 1 - lr * weightDecay : 1
            let p = params + e.offset, g = grads + e.offset, mm = m.pointer + e.offset, vv = v.pointer + e.offset
            let b1 = beta1, b2 = beta2, eps = eps
            Compute.pool.parallelFor(e.count, minPerThread: 16384) { r, _ in
                typealias V = SIMD8<Float>
                let d8 = V(repeating: decay), b18 = V(repeating: b1), c18 = V(repeating: 1 - b1), b28 = V(repeating: b2)
                let c28 = V(repeating: 1 - b2), ss8 = V(repeating: stepSize), ib8 = V(repeating: invSqrtBC2), e8 = V(repeating: eps)
                var i = r.lowerBound
                while i + 8 <= r.upperBound {
                    let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
                    let mi = (b18 * UnsafeRawPointer(mm + i).loadUnaligned(as: V.self)).addingProduct(c18, gi)
                    let vi = (b28 * UnsafeRawPointer(vv + i).loadUnaligned(as: V.self)).addingProduct(c28 * gi, gi)
                    let pi = UnsafeRawPointer(p + i).loadUnaligned(as: V.self) * d8 - ss8 * mi / (vi.squareRoot() * ib8 + e8)
                    UnsafeMutableRawPointer(mm + i).storeBytes(of: mi, as: V.self)
                    UnsafeMutableRawPointer(vv + i).storeBytes(of: vi, as: V.self)
                    UnsafeMutableRawPointer(p + i).storeBytes(of: pi, as: V.self)
                    i += 8
                }
                for i in i..<r.upperBound {
                    let gi = g[i]
                    p[i] *= decay
                    mm[i] = b1 * mm[i] + (1 - b1) * gi
                    vv[i] = b2 * vv[i] + (1 - b2) * gi * gi
                    p[i] -= stepSize * mm[i] / (vv[i].squareRoot() * invSqrtBC2 + eps)
                }
            }
        }
    }

    /// θ_t ← m·θ_t + (1 − m)·θ_s over the whole arena (all entries, including frozen ones).
    public static func ema(teacher: UnsafeMutablePointer<Float>, student: UnsafePointer<Float>, count: Int, momentum: Float) {
        let a = momentum, b = 1 - momentum
        Compute.pool.parallelFor(count, minPerThread: 16384) { r, _ in
            for i in r { teacher[i] = a * teacher[i] + b * student[i] }
        }
    }
}
