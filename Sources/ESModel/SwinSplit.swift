// The backbone with its batch split across threads (Compute.split): part t of n takes the
// contiguous samples ranges[t] through forward and backward on its own thread with one-thread
// kernels and a workspace of its own; part 0 accumulates into the caller's gradients, every
// other part into a gradient buffer of its own, added into the caller's after the backward
// (in part order). Samples never meet inside the backbone (LayerNorm per token, attention per
// window, pooling per sample, DropPath keyed per sample), so part t computes exactly what a
// one-thread pass over its samples computes. For a rank with more than one thread: whole parts
// per thread pay no barrier per kernel call and keep every product at its full height.
import ESKernels

public final class SwinSplit: @unchecked Sendable {
    public let batch: Int, imageHeight: Int, imageWidth: Int
    /// One workspace per part, for the samples of `ranges[t]`.
    public let parts: [SwinWorkspace]
    public let ranges: [Range<Int>]
    /// Gradient buffers of parts 1..<n (each up to the end of the backbone's parameter range).
    let partGrads: [FloatBuffer]
    public var finalTokens: Int { parts[0].finalTokens }
    public var finalDim: Int { parts[0].finalDim }

    /// The contiguous sample ranges of `n` parts of a batch of `B` (sizes differ by at most one).
    public static func ranges(batch B: Int, parts n: Int) -> [Range<Int>] {
        (0..<n).map { t in (B * t / n)..<(B * (t + 1) / n) }
    }

    /// Each part's buffer layout (to size TransientPools shared with other workspaces: pool t
    /// serves part t).
    public static func layouts(model: SwinModel, batch: Int, height: Int, width: Int, training: Bool, parts n: Int) -> [BufferLayout] {
        ranges(batch: batch, parts: n).map { SwinWorkspace.layout(model: model, batch: $0.count, height: height, width: width, training: training) }
    }

    /// `gradientCount`: floats of the gradient arena backward accumulates into (training only).
    /// `transient`: one pool per part, or nil for arenas of their own.
    public init(model: SwinModel, batch B: Int, height: Int, width: Int, training: Bool, parts n: Int,
                gradientCount: Int = 0, transient: [TransientPool]? = nil) {
        precondition(n >= 1 && n <= B, "a batch of \(B) cannot be split into \(n) parts")
        precondition(transient == nil || transient!.count == n, "one transient pool per part")
        batch = B; imageHeight = height; imageWidth = width
        let rs = SwinSplit.ranges(batch: B, parts: n)
        ranges = rs
        parts = rs.indices.map { t in
            SwinWorkspace(model: model, batch: rs[t].count, height: height, width: width, training: training, transient: transient?[t])
        }
        // A part's gradients land at the caller's offsets; only the backbone's range is written.
        precondition(!training || gradientCount >= model.parameterRange.upperBound, "the gradient arena must hold the backbone")
        partGrads = training ? (1..<n).map { _ in FloatBuffer(count: model.parameterRange.upperBound) } : []
    }

    /// Bytes of the parts' workspaces and gradient buffers (not of pools given to them).
    public var bytes: Int { parts.reduce(0) { $0 + $1.bytes } + partGrads.reduce(0) { $0 + 4 * $1.count } }

    /// Forward of every part on its own thread; `dropPathKeys`, when given, one per sample of the batch.
    public func forward(_ model: SwinModel, params P: UnsafePointer<Float>, image: UnsafePointer<Float>, dropPathKeys: [UInt64]? = nil) {
        let perImage = model.config.inChans * imageHeight * imageWidth
        let keys = ranges.map { r in dropPathKeys.map { Array($0[r]) } }
        Compute.split(parts.count) { t in
            model.forward(params: P, image: image + ranges[t].lowerBound * perImage, workspace: parts[t], dropPathKeys: keys[t])
        }
    }

    /// Backward of every part on its own thread (dTokens (B, Lf, Cf) and dPooled (B, Cf) of the
    /// whole batch), then the other parts' gradients added into `G`.
    public func backward(_ model: SwinModel, params P: UnsafePointer<Float>, grads G: UnsafeMutablePointer<Float>,
                         dTokens: UnsafePointer<Float>?, dPooled: UnsafePointer<Float>?) {
        precondition(parts[0].training, "backward needs training workspaces")
        let tokenFloats = finalTokens * finalDim, pooledFloats = finalDim
        // The backward writes only the backbone's own parameters: zero and add that range alone.
        let range = model.parameterRange
        Compute.split(parts.count) { t in
            let g = t == 0 ? G : partGrads[t - 1].pointer
            if t > 0 { (g + range.lowerBound).update(repeating: 0, count: range.count) }
            let first = ranges[t].lowerBound
            model.backward(params: P, grads: g, workspace: parts[t], dTokens: dTokens.map { $0 + first * tokenFloats },
                           dPooled: dPooled.map { $0 + first * pooledFloats })
        }
        for g in partGrads {
            Compute.pool.parallelFor(range.count, minPerThread: 1 << 14) { r, _ in
                let i = range.lowerBound + r.lowerBound
                VectorMath.add(g.pointer + i, into: G + i, r.count)
            }
        }
    }

    /// The parts' final tokens (B, Lf, Cf) and pooled features (B, Cf) copied into whole-batch buffers.
    public func gather(tokens: UnsafeMutablePointer<Float>?, pooled: UnsafeMutablePointer<Float>?) {
        let tokenFloats = finalTokens * finalDim
        for (w, r) in zip(parts, ranges) {
            tokens.map { ($0 + r.lowerBound * tokenFloats).update(from: w.tokens, count: r.count * tokenFloats) }
            pooled.map { ($0 + r.lowerBound * finalDim).update(from: w.pooled, count: r.count * finalDim) }
        }
    }
}
