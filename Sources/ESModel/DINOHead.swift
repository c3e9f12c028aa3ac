// The DINO projection head (docs/algorithm.md §2), used twice by EsViT (view head on pooled features,
// dense/region head on every final token), with upstream parameter names under a prefix:
//   mlp.0: Linear(in → hidden), GELU, mlp.2: Linear(hidden → hidden), GELU,
//   mlp.4: Linear(hidden → bottleneck), then z/max(‖z‖, 1e-12),
//   last_layer: weight-normalised Linear(bottleneck → K, no bias), W_o = g_o v_o/‖v_o‖.
// The logits zn·Wᵀ are not formed here: the loss multiplies by W in row chunks (K can be 65536),
// so forward ends at (zn, W) and backward starts from (dzn, dW) filled by the loss.
// norm_last_layer = true freezes g at 1 (not trainable), as upstream.
import ESKernels

public struct HeadConfig: Codable, Equatable, Sendable {
    public var hidden: Int
    public var bottleneck: Int
    public var outDim: Int
    public var normLastLayer: Bool

    public init(hidden: Int, bottleneck: Int, outDim: Int, normLastLayer: Bool) {
        self.hidden = hidden; self.bottleneck = bottleneck; self.outDim = outDim; self.normLastLayer = normLastLayer
    }

    /// ImageNet defaults (docs/algorithm.md §2, §5.1).
    public static let imagenet = HeadConfig(hidden: 2048, bottleneck: 256, outDim: 65536, normLastLayer: false)
    /// CPU default for the small presets (swin_mini): hidden 512, bottleneck 128, K 4096.
    public static let cpu = HeadConfig(hidden: 512, bottleneck: 128, outDim: 4096, normLastLayer: false)

}

public final class DINOHead: @unchecked Sendable {
    public let inDim: Int
    public let config: HeadConfig
    public let prefix: String
    public let w0, b0, w2, b2, w4, b4, g, v: Int

    public init(inDim: Int, config: HeadConfig, table: ParameterTable, prefix: String) {
        self.inDim = inDim; self.config = config; self.prefix = prefix
        let H = config.hidden, Bn = config.bottleneck, K = config.outDim
        w0 = table.add(prefix + "mlp.0.weight", [H, inDim]); b0 = table.add(prefix + "mlp.0.bias", [H])
        w2 = table.add(prefix + "mlp.2.weight", [H, H]); b2 = table.add(prefix + "mlp.2.bias", [H])
        w4 = table.add(prefix + "mlp.4.weight", [Bn, H]); b4 = table.add(prefix + "mlp.4.bias", [Bn])
        g = table.add(prefix + "last_layer.weight_g", [K, 1], trainable: !config.normLastLayer)
        v = table.add(prefix + "last_layer.weight_v", [K, Bn])
    }

    /// MLP weights trunc-normal(0.02), biases 0; weight_v PyTorch's Linear default
    /// U(±1/√bottleneck) (created after the trunc-normal init, docs/algorithm.md §2); g = 1.
    public func initialize(_ params: UnsafeMutablePointer<Float>, table: ParameterTable, seed: UInt64) {
        for e in table.entries where e.key.hasPrefix(prefix) {
            var rng = KeyedRandom(seed, stableHash(e.key))
            let dst = params + e.offset
            if e.key.hasSuffix(".bias") { dst.update(repeating: 0, count: e.count) }
            else if e.key.hasSuffix("weight_g") { dst.update(repeating: 1, count: e.count) }
            else if e.key.hasSuffix("weight_v") {
                let bound = 1 / Double(config.bottleneck).squareRoot()
                for i in 0..<e.count { dst[i] = Float(rng.uniform(-bound, bound)) }
            } else {
                for i in 0..<e.count { dst[i] = Float(truncatedNormal(&rng, std: 0.02)) }
            }
        }
    }

    /// Buffers for `rows` input rows, plus the last-layer matrix and its gradient.
    public final class Workspace: @unchecked Sendable {
        public let rows: Int
        let h1, a1, h2, a2, z, zNorms: FloatBuffer
        /// zn (rows, Bn): normalised bottleneck features; dzn: its gradient (filled by the loss).
        public let zn, dzn: FloatBuffer
        /// W (K, Bn) = weight-normed last layer and its row norms ‖v_o‖; dW: gradient (by the loss).
        public let w, vNorms, dW: FloatBuffer
        let dH: FloatBuffer, dZ: FloatBuffer

        public init(head: DINOHead, rows: Int, training: Bool) {
            self.rows = rows
            let H = head.config.hidden, Bn = head.config.bottleneck, K = head.config.outDim
            h1 = FloatBuffer(count: rows * H); a1 = FloatBuffer(count: rows * H)
            h2 = FloatBuffer(count: rows * H); a2 = FloatBuffer(count: rows * H)
            z = FloatBuffer(count: rows * Bn); zNorms = FloatBuffer(count: rows)
            zn = FloatBuffer(count: rows * Bn); dzn = FloatBuffer(count: training ? rows * Bn : 0)
            w = FloatBuffer(count: K * Bn); vNorms = FloatBuffer(count: K); dW = FloatBuffer(count: training ? K * Bn : 0)
            dH = FloatBuffer(count: training ? 2 * rows * H : 0); dZ = FloatBuffer(count: training ? rows * Bn : 0)
        }

        public var bytes: Int { [h1, a1, h2, a2, z, zNorms, zn, dzn, w, vNorms, dW, dH, dZ].reduce(0) { $0 + $1.count * 4 } }
    }

    /// x (rows, in) → ws.zn (rows, Bn) and ws.w (K, Bn).
    public func forward(params P: UnsafePointer<Float>, x: UnsafePointer<Float>, workspace ws: Workspace) {
        let R = ws.rows, H = config.hidden, Bn = config.bottleneck
        Linear.forward(y: ws.h1.pointer, x: x, weight: P + w0, bias: P + b0, rows: R, inFeatures: inDim, outFeatures: H)
        GELU.forward(y: ws.a1.pointer, x: ws.h1.pointer, count: R * H)
        Linear.forward(y: ws.h2.pointer, x: ws.a1.pointer, weight: P + w2, bias: P + b2, rows: R, inFeatures: H, outFeatures: H)
        GELU.forward(y: ws.a2.pointer, x: ws.h2.pointer, count: R * H)
        Linear.forward(y: ws.z.pointer, x: ws.a2.pointer, weight: P + w4, bias: P + b4, rows: R, inFeatures: H, outFeatures: Bn)
        L2Normalize.forward(y: ws.zn.pointer, norms: ws.zNorms.pointer, x: ws.z.pointer, rows: R, dim: Bn)
        WeightNorm.forward(w: ws.w.pointer, norms: ws.vNorms.pointer, g: P + g, v: P + v, rows: config.outDim, dim: Bn)
    }

    /// From ws.dzn and ws.dW: parameter gradients (+=) and dx (rows, in) (=).
    public func backward(params P: UnsafePointer<Float>, grads G: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                         workspace ws: Workspace, dx: UnsafeMutablePointer<Float>) {
        let R = ws.rows, H = config.hidden, Bn = config.bottleneck
        WeightNorm.backward(dg: config.normLastLayer ? nil : G + g, dv: G + v, dW: ws.dW.pointer, g: P + g, v: P + v,
                            norms: ws.vNorms.pointer, rows: config.outDim, dim: Bn)
        L2Normalize.backward(dx: ws.dZ.pointer, dy: ws.dzn.pointer, y: ws.zn.pointer, norms: ws.zNorms.pointer, rows: R, dim: Bn)
        let dA = ws.dH.pointer, dB = ws.dH.pointer + R * H
        Linear.backward(dx: dA, dWeight: G + w4, dBias: G + b4, dy: ws.dZ.pointer, x: ws.a2.pointer, weight: P + w4, rows: R, inFeatures: H, outFeatures: Bn)
        GELU.backward(dx: dA, dy: dA, x: ws.h2.pointer, count: R * H)
        Linear.backward(dx: dB, dWeight: G + w2, dBias: G + b2, dy: dA, x: ws.a1.pointer, weight: P + w2, rows: R, inFeatures: H, outFeatures: H)
        GELU.backward(dx: dB, dy: dB, x: ws.h1.pointer, count: R * H)
        Linear.backward(dx: dx, dWeight: G + w0, dBias: G + b0, dy: dB, x: x, weight: P + w0, rows: R, inFeatures: inDim, outFeatures: H)
    }
}
