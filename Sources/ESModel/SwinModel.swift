// The Swin backbone as EsViT uses it (docs/algorithm.md §1): its parameter layout in a ParameterTable under
// the official key names (optionally prefixed, e.g. "backbone."), and initialisation (§1.8).
// Forward/backward live in SwinForward.swift / SwinBackward.swift, activations in SwinWorkspace.
import ESKernels
import Foundation

/// Offsets of one block's parameters in the arena.
public struct BlockParams: Sendable {
    public let plan: BlockPlan
    public let norm1W: Int, norm1B: Int, qkvW: Int, qkvB: Int, projW: Int, projB: Int, table: Int
    public let norm2W: Int, norm2B: Int, fc1W: Int, fc1B: Int, fc2W: Int, fc2B: Int
    public let relIndex: [Int32]
    public let hiddenDim: Int
}

/// Offsets of a PatchMerging at the end of a stage.
public struct MergeParams: Sendable {
    public let dim: Int          // input width C; output is 2C
    public let normW: Int, normB: Int, reduction: Int
}

public final class SwinModel: @unchecked Sendable {
    public let config: SwinConfig
    public let prefix: String
    public let embedW: Int, embedB: Int, embedNormW: Int, embedNormB: Int
    public let blocks: [BlockParams]
    /// merges[s] is the PatchMerging ending stage s (nil for the last stage).
    public let merges: [MergeParams?]
    public let normW: Int, normB: Int
    /// The table's floats that hold this backbone's parameters (all of its entries lie inside):
    /// the only part of a gradient arena its backward writes.
    public let parameterRange: Range<Int>

    /// Lays the backbone out in `table` under `prefix` (e.g. "" or "backbone.").
    public init(config: SwinConfig, table: ParameterTable, prefix: String = "") {
        self.config = config; self.prefix = prefix
        let p = prefix, C0 = config.embedDim, ps = config.patchSize
        embedW = table.add(p + "patch_embed.proj.weight", [C0, config.inChans, ps, ps])
        embedB = table.add(p + "patch_embed.proj.bias", [C0])
        embedNormW = table.add(p + "patch_embed.norm.weight", [C0])
        embedNormB = table.add(p + "patch_embed.norm.bias", [C0])
        var blocks: [BlockParams] = [], merges: [MergeParams?] = []
        let plans = config.blockPlans
        for s in 0..<config.numStages {
            for plan in plans where plan.stage == s {
                let k = p + "layers.\(s).blocks.\(plan.index)."
                let C = plan.dim, hid = C * config.mlpRatio, ws = plan.windowSize
                blocks.append(BlockParams(
                    plan: plan,
                    norm1W: table.add(k + "norm1.weight", [C]), norm1B: table.add(k + "norm1.bias", [C]),
                    qkvW: table.add(k + "attn.qkv.weight", [3 * C, C]), qkvB: table.add(k + "attn.qkv.bias", [3 * C]),
                    projW: table.add(k + "attn.proj.weight", [C, C]), projB: table.add(k + "attn.proj.bias", [C]),
                    table: table.add(k + "attn.relative_position_bias_table", [(2 * ws - 1) * (2 * ws - 1), plan.heads]),
                    norm2W: table.add(k + "norm2.weight", [C]), norm2B: table.add(k + "norm2.bias", [C]),
                    fc1W: table.add(k + "mlp.fc1.weight", [hid, C]), fc1B: table.add(k + "mlp.fc1.bias", [hid]),
                    fc2W: table.add(k + "mlp.fc2.weight", [C, hid]), fc2B: table.add(k + "mlp.fc2.bias", [C]),
                    relIndex: RelativePosition.index(windowSize: ws), hiddenDim: hid))
            }
            if s < config.numStages - 1 {
                let C = config.stageDim(s), k = p + "layers.\(s).downsample."
                merges.append(MergeParams(dim: C, normW: table.add(k + "norm.weight", [4 * C]),
                                          normB: table.add(k + "norm.bias", [4 * C]),
                                          reduction: table.add(k + "reduction.weight", [2 * C, 4 * C])))
            } else {
                merges.append(nil)
            }
        }
        self.blocks = blocks; self.merges = merges
        normW = table.add(p + "norm.weight", [config.numFeatures])
        normB = table.add(p + "norm.bias", [config.numFeatures])
        parameterRange = embedW..<table.totalCount
    }

    /// Keys of the constant index buffers that PyTorch state dicts also hold (not parameters).
    public var bufferKeys: [String] {
        blocks.map { prefix + "layers.\($0.plan.stage).blocks.\($0.plan.index).attn.relative_position_index" }
    }

    /// Initialisation as upstream (docs/algorithm.md §1.8): Linear weights and bias tables trunc-normal(0.02)
    /// (bounds ±2, absolute), biases 0, LayerNorm 1/0, the patch conv PyTorch's default
    /// kaiming-uniform: U(±1/√fan_in) for weight and bias. Draws are keyed by (seed, key).
    public func initialize(_ params: UnsafeMutablePointer<Float>, table: ParameterTable, seed: UInt64) {
        for e in table.entries where e.key.hasPrefix(prefix) {
            let name = String(e.key.dropFirst(prefix.count))
            let dst = params + e.offset
            var rng = KeyedRandom(seed, stableHash(e.key))
            if name.hasPrefix("patch_embed.proj.") {
                let fanIn = Double(config.inChans * config.patchSize * config.patchSize)
                let bound = 1 / fanIn.squareRoot()
                for i in 0..<e.count { dst[i] = Float(rng.uniform(-bound, bound)) }
            } else if name.hasSuffix("norm.weight") || name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") {
                dst.update(repeating: 1, count: e.count)
            } else if name.hasSuffix(".bias") {
                dst.update(repeating: 0, count: e.count)
            } else {
                for i in 0..<e.count { dst[i] = Float(truncatedNormal(&rng, std: 0.02)) }
            }
        }
    }
}

/// N(0, std²) truncated to the absolute interval [−2, 2] (timm semantics).
public func truncatedNormal(_ rng: inout KeyedRandom, std: Double) -> Double {
    while true { let v = rng.normal() * std; if abs(v) <= 2 { return v } }
}

/// FNV-1a-64 over the UTF-8 bytes: a stable per-key seed component.
public func stableHash(_ s: String) -> UInt64 { FNV1a64.hash(s) }
