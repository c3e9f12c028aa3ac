// The backbone on a batch of images held in a .npy array (`esvit forward`): weights from any file
// EvalBackbone reads (a training checkpoint, a .pth or safetensors from elsewhere; optionally
// under a given prefix), inference in batches, the pooled features (N, C_out) and optionally
// the final token map (N, L, C_out).
// Every input problem is refused with the reason before anything is computed.
import ESCheckpoint
import ESKernels
import ESModel
import Foundation

public enum BackboneForward {
    public struct Output {
        public let features: NpyArray
        public let tokens: NpyArray?
        public let blocks: Int
        /// What was loaded, and the skipped head keys if any.
        public let origin: String
    }

    /// Runs the backbone of `weights` (any file EvalBackbone reads; `config` is the architecture
    /// of files that do not carry one) on `x` (float32 (N, C, H, W), normalised, square),
    /// `batch` images at a time.
    public static func run(_ config: SwinConfig, weights: String, which: EvalNetwork = .teacher, prefix: String?, input x: NpyArray,
                           inputName: String, batch: Int, keepTokens: Bool) throws -> Output {
        let backbone = try EvalBackbone(path: weights, which: which, arch: config, prefix: prefix)
        let cfg = backbone.config, model = backbone.model, params = backbone.params
        guard x.shape.count == 4 else { throw EvalError.invalid("\(inputName): shape \(x.shape) is not (N, C, H, W)") }
        let (N, C, H, W) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard C == cfg.inChans else { throw EvalError.invalid("\(inputName) has \(C) channels, the model takes \(cfg.inChans) (--in-chans)") }
        guard H % cfg.patchSize == 0, W % cfg.patchSize == 0 else {
            throw EvalError.invalid("\(inputName): \(H)×\(W) is not a multiple of the patch size \(cfg.patchSize)")
        }
        guard H == W else { throw EvalError.invalid("\(inputName): \(H)×\(W) is not square; the EsViT Swin assumes square inputs") }
        let bs = min(batch, N)
        let ws = SwinWorkspace(model: model, batch: bs, height: H, width: W, training: false)
        let Lf = ws.finalTokens, Cf = ws.finalDim
        var feats = [Float](repeating: 0, count: N * Cf)
        var toks = [Float](repeating: 0, count: keepTokens ? N * Lf * Cf : 0)
        let per = C * H * W
        let padded = FloatBuffer(count: bs * per)
        var start = 0
        while start < N {
            let n = min(bs, N - start)
            padded.zero()
            x.data.withUnsafeBufferPointer { padded.pointer.update(from: $0.baseAddress! + start * per, count: n * per) }
            model.forward(params: params.pointer, image: padded.pointer, workspace: ws)
            for i in 0..<(n * Cf) { feats[start * Cf + i] = ws.pooled[i] }
            if keepTokens { for i in 0..<(n * Lf * Cf) { toks[start * Lf * Cf + i] = ws.tokens[i] } }
            start += n
        }
        return Output(features: NpyArray(shape: [N, Cf], data: feats), tokens: keepTokens ? NpyArray(shape: [N, Lf, Cf], data: toks) : nil,
                      blocks: cfg.depths.reduce(0, +), origin: ([backbone.origin] + backbone.notes).joined(separator: "\n  "))
    }
}
