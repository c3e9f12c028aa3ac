// Name-keyed deterministic tensors, bit-identical to tools/reference/fixture_weights.py:
//   h = FNV-1a-64(name); u_i = splitmix64(h + i) >> 40; v_i = u_i / 2^23 − 1;
//   x_i = Float(v_i)·scale + offset   (float32 arithmetic, no fused multiply-add)
// Fixture inputs (weights, images, upstream gradients) are regenerated here, so committed
// fixtures only hold PyTorch's outputs and gradients.
import ESKernels
import ESModel

public enum FixtureTensors {
    @inline(never)
    static func affine(_ v: Float, _ scale: Float, _ offset: Float) -> Float {
        let p = v * scale
        return p + offset
    }

    public static func fill(_ name: String, _ dst: UnsafeMutablePointer<Float>, count: Int, scale: Float, offset: Float = 0) {
        let h = FNV1a64.hash(name)
        for i in 0..<count {
            let z = SplitMix64.mix(h &+ UInt64(i))
            let v = Float(Double(z >> 40) / Double(1 << 23) - 1)
            dst[i] = affine(v, scale, offset)
        }
    }

    public static func array(_ name: String, count: Int, scale: Float, offset: Float = 0) -> [Float] {
        var a = [Float](repeating: 0, count: count)
        a.withUnsafeMutableBufferPointer { fill(name, $0.baseAddress!, count: count, scale: scale, offset: offset) }
        return a
    }

    /// Parameter values by kind, as fixture_weights.parameter.
    public static func fillParameters(_ table: ParameterTable, _ params: UnsafeMutablePointer<Float>) {
        for e in table.entries {
            let k = e.key, dst = params + e.offset
            if k.hasSuffix("last_layer.weight_g") { fill(k, dst, count: e.count, scale: 0.2, offset: 1) }
            else if k.hasSuffix("relative_position_bias_table") { fill(k, dst, count: e.count, scale: 0.5) }
            else if k.hasSuffix("norm.weight") || k.hasSuffix("norm1.weight") || k.hasSuffix("norm2.weight") {
                fill(k, dst, count: e.count, scale: 0.2, offset: 1)
            } else if k.hasSuffix(".bias") { fill(k, dst, count: e.count, scale: 0.1) }
            else if k.hasSuffix("patch_embed.proj.weight") { fill(k, dst, count: e.count, scale: 0.2) }
            else { fill(k, dst, count: e.count, scale: 0.1) }
        }
    }
}
