// Analytic floating-point operation counts of the Swin forward (2 per multiply-add), used by
// benchmarks to report achieved GFLOP/s. Counts the matrix products (patch embedding, qkv,
// q·kᵀ, P·v, proj, MLP, merging); elementwise work is not counted. Padding tokens are counted
// in q·kᵀ and P·v, which the engine computes for them, not in qkv and proj, which run on the
// real tokens only. Backward is taken as 2× the forward (dX and dW products).
extension SwinModel {
    public func forwardFLOPs(batch B: Int, height: Int, width: Int) -> Double {
        let cfg = config, p = cfg.patchSize
        var H = height / p, W = width / p
        var f = 2.0 * Double(B * H * W) * Double(cfg.inChans * p * p * cfg.embedDim)
        for s in 0..<cfg.numStages {
            for bp in blocks where bp.plan.stage == s {
                let C = Double(bp.plan.dim), ws = bp.plan.windowSize
                let Hp = (H + ws - 1) / ws * ws, Wp = (W + ws - 1) / ws * ws
                let Nw = Double(B * Hp * Wp), N = Double(ws * ws), L = Double(B * H * W)
                f += 2 * L * C * 3 * C           // qkv
                f += 2 * 2 * Nw * N * C          // q·kᵀ and P·v over all heads
                f += 2 * L * C * C               // proj
                f += 2 * 2 * L * C * Double(bp.hiddenDim)  // fc1 + fc2
            }
            if let m = merges[s] {
                H = (H + 1) / 2; W = (W + 1) / 2
                f += 2 * Double(B * H * W) * Double(4 * m.dim * 2 * m.dim)
            }
        }
        return f
    }
}
