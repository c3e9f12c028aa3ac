// Swin backbone configuration and the named presets (docs/algorithm.md §1.1), plus the per-block plan that
// construction derives from it: stage widths, heads, the window size and shift each block uses
// (clamped at the construction resolution, §1.5) and the linearly increasing DropPath rates.

public struct SwinConfig: Codable, Equatable, Sendable {
    public var patchSize: Int
    public var inChans: Int
    public var embedDim: Int
    public var depths: [Int]
    public var numHeads: [Int]
    public var windowSize: Int
    public var mlpRatio: Int
    /// Input size at which window clamping and shift decisions are frozen (224 for ImageNet).
    public var constructSize: Int
    public var dropPathRate: Float
    public var layerNormEps: Float

    public init(patchSize: Int, inChans: Int = 3, embedDim: Int, depths: [Int], numHeads: [Int],
                windowSize: Int, mlpRatio: Int = 4, constructSize: Int, dropPathRate: Float,
                layerNormEps: Float = 1e-6) {
        self.patchSize = patchSize; self.inChans = inChans; self.embedDim = embedDim
        self.depths = depths; self.numHeads = numHeads; self.windowSize = windowSize
        self.mlpRatio = mlpRatio; self.constructSize = constructSize
        self.dropPathRate = dropPathRate; self.layerNormEps = layerNormEps
    }

    public var numStages: Int { depths.count }
    public func stageDim(_ s: Int) -> Int { embedDim << s }
    public var numFeatures: Int { stageDim(numStages - 1) }

    /// The backbone of the preset called `name` (nil for an unknown name).
    public static func preset(_ name: String, windowSize: Int? = nil) -> SwinConfig? {
        Architecture(rawValue: name)?.backbone(windowSize: windowSize)
    }

    /// Checks the configuration; returns a one-line reason when it is unusable.
    public func problem() -> String? {
        if patchSize < 1 || inChans < 1 || embedDim < 1 || windowSize < 1 || mlpRatio < 1 { return "sizes must be positive" }
        if !(layerNormEps > 0 && layerNormEps.isFinite) { return "--layer-norm-eps must be a positive number" }
        if depths.isEmpty || depths.count != numHeads.count { return "--depths and --num-heads need the same, non-zero number of stages (got \(depths.count) and \(numHeads.count))" }
        if depths.contains(where: { $0 < 1 }) { return "every stage needs at least one block" }
        for s in 0..<numStages where numHeads[s] < 1 || stageDim(s) % numHeads[s] != 0 {
            return "stage \(s) width \(stageDim(s)) is not divisible by its \(numHeads[s]) heads"
        }
        if constructSize % patchSize != 0 { return "--construct-size \(constructSize) is not a multiple of the patch size \(patchSize)" }
        return nil
    }
}

/// What construction decided for one block.
public struct BlockPlan: Sendable {
    public let stage: Int, index: Int, globalIndex: Int
    public let dim: Int, heads: Int
    public let windowSize: Int, shift: Int
    public let dropPath: Float
}

extension SwinConfig {
    /// Token-grid side of stage s at the construction resolution.
    public func constructResolution(stage s: Int) -> Int {
        var r = constructSize / patchSize
        for _ in 0..<s { r = (r + 1) / 2 }
        return r
    }

    public var blockPlans: [BlockPlan] {
        let total = depths.reduce(0, +)
        var plans: [BlockPlan] = [], g = 0
        for s in 0..<numStages {
            let res = constructResolution(stage: s)
            let clamp = res <= windowSize
            let ws = clamp ? res : windowSize
            for b in 0..<depths[s] {
                let shift = (clamp || b % 2 == 0) ? 0 : windowSize / 2
                let rate = total > 1 ? dropPathRate * Float(g) / Float(total - 1) : 0
                plans.append(BlockPlan(stage: s, index: b, globalIndex: g, dim: stageDim(s), heads: numHeads[s],
                                       windowSize: ws, shift: shift, dropPath: rate))
                g += 1
            }
        }
        return plans
    }
}
