// Swin backward: the forward read in reverse. Input: gradients for the final token map
// dTokens (B, L, C) and for the pooled feature dPooled (B, C) (either may be nil); both fan in
// to the final LayerNorm. Parameter gradients are accumulated (+=) into `grads` (same layout
// as the parameters). The residual-stream gradient is kept in place in one buffer per stage
// and LayerNorm input gradients are added into it; everything else is written (=).
// The image takes no gradient. Requires a training-mode workspace filled by `forward`.
import ESKernels

extension SwinModel {
    public func backward(params P: UnsafePointer<Float>, grads G: UnsafeMutablePointer<Float>,
                         workspace ws: SwinWorkspace, dTokens: UnsafePointer<Float>?, dPooled: UnsafePointer<Float>?) {
        precondition(ws.training, "backward needs a training workspace")
        let cfg = config, B = ws.batch, Lf = ws.finalTokens, Cf = ws.finalDim
        // dTok = dTokens + dPooled/L, then through the final LayerNorm into the stream gradient.
        if let dTokens { ws.dTok.update(from: dTokens, count: B * Lf * Cf) } else { ws.dTok.update(repeating: 0, count: B * Lf * Cf) }
        if let dPooled { TokenPool.meanBackward(dTokens: ws.dTok, dPooled: dPooled, batch: B, tokens: Lf, channels: Cf) }
        var dStream = ws.dStreamA, dOther = ws.dStreamB
        LayerNorm.backward(dx: dStream, accumulate: false, dGamma: G + normW, dBeta: G + normB, dy: ws.dTok,
                           x: ws.lastStream, mean: ws.finalMean, rstd: ws.finalRstd, gamma: P + normW, rows: B * Lf, channels: Cf)
        var bi = blocks.count - 1
        for s in stride(from: cfg.numStages - 1, through: 0, by: -1) {
            if let m = merges[s], let a = ws.merges[s] {
                let H2 = (a.height + 1) / 2, W2 = (a.width + 1) / 2, rows = B * H2 * W2, C = m.dim
                Linear.backward(dx: ws.dHidden, dWeight: G + m.reduction, dBias: nil, dy: dStream, x: a.ln,
                                weight: P + m.reduction, rows: rows, inFeatures: 4 * C, outFeatures: 2 * C)
                LayerNorm.backward(dx: ws.dTok, accumulate: false, dGamma: G + m.normW, dBeta: G + m.normB, dy: ws.dHidden,
                                   x: a.gathered, mean: a.mean, rstd: a.rstd, gamma: P + m.normW, rows: rows, channels: 4 * C)
                PatchMerge.scatter(dx: dOther, dOut: ws.dTok, batch: B, height: a.height, width: a.width, channels: C)
                swap(&dStream, &dOther)
            }
            while bi >= 0 && blocks[bi].plan.stage == s {
                blockBackward(blocks[bi], ws.blocks[bi], P, G, B, dStream: dStream, ws: ws)
                bi -= 1
            }
        }
        // Patch embedding: stream gradient → embed LayerNorm → conv weight/bias (no input grad).
        let p = cfg.patchSize, L0 = (ws.imageHeight / p) * (ws.imageWidth / p), C0 = cfg.embedDim
        LayerNorm.backward(dx: ws.dTok, accumulate: false, dGamma: G + embedNormW, dBeta: G + embedNormB, dy: dStream,
                           x: ws.embedOut, mean: ws.embedMean, rstd: ws.embedRstd, gamma: P + embedNormW, rows: B * L0, channels: C0)
        Linear.backward(dx: nil, dWeight: G + embedW, dBias: G + embedB, dy: ws.dTok, x: ws.cols, weight: P + embedW,
                        rows: B * L0, inFeatures: cfg.inChans * p * p, outFeatures: C0)
    }

    /// dStream holds d(xOut) on entry and d(xIn) on exit.
    func blockBackward(_ bp: BlockParams, _ a: BlockActs, _ P: UnsafePointer<Float>, _ G: UnsafeMutablePointer<Float>,
                       _ B: Int, dStream: FPtr, ws: SwinWorkspace) {
        let C = bp.plan.dim, L = a.tokens, g = a.geometry, Hd = bp.hiddenDim, nH = bp.plan.heads
        let Nw = B * g.windowsPerImage * g.tokensPerWindow, NN = g.tokensPerWindow * g.tokensPerWindow
        let drop2: UnsafePointer<Float>? = bp.plan.dropPath > 0 ? UnsafePointer(a.drop2) : nil
        let drop1: UnsafePointer<Float>? = bp.plan.dropPath > 0 ? UnsafePointer(a.drop1) : nil
        // MLP branch: xOut = x1 + s2·fc2(gelu(fc1(ln2(x1)))).
        DropPath.branchBackward(dBranch: ws.dTok, dy: dStream, scales: drop2, batch: B, rowsPerSample: L, channels: C)
        // act is shared between blocks: recompute it, with GELU's slope into dHidden in the same
        // pass; once fc2's weight gradient has read act, act's buffer takes d(act).
        GELU.forwardWithSlope(y: a.act, slope: ws.dHidden, x: a.hidden, count: B * L * Hd)
        Linear.backward(dx: nil, dWeight: G + bp.fc2W, dBias: G + bp.fc2B, dy: ws.dTok, x: a.act,
                        weight: P + bp.fc2W, rows: B * L, inFeatures: Hd, outFeatures: C)
        Linear.backward(dx: a.act, dWeight: nil, dBias: nil, dy: ws.dTok, x: a.act,
                        weight: P + bp.fc2W, rows: B * L, inFeatures: Hd, outFeatures: C)
        GELU.backward(dx: ws.dHidden, dy: a.act, slope: ws.dHidden, count: B * L * Hd)
        Linear.backward(dx: ws.dTok, dWeight: G + bp.fc1W, dBias: G + bp.fc1B, dy: ws.dHidden, x: a.ln2,
                        weight: P + bp.fc1W, rows: B * L, inFeatures: C, outFeatures: Hd)
        LayerNorm.backward(dx: dStream, accumulate: true, dGamma: G + bp.norm2W, dBeta: G + bp.norm2B, dy: ws.dTok,
                           x: a.x1, mean: a.mean2, rstd: a.rstd2, gamma: P + bp.norm2W, rows: B * L, channels: C)
        // Attention branch: x1 = xIn + s1·reverse(proj(attn(qkv(partition(ln1(xIn)))))).
        DropPath.branchBackward(dBranch: ws.dTok, dy: dStream, scales: drop1, batch: B, rowsPerSample: L, channels: C)
        let attention = { (dOut: FPtr) in
            ws.dBias.update(repeating: 0, count: nH * NN)
            WindowAttention.backward(dqkv: ws.dQKV, dBias: ws.dBias, dOut: dOut, qkv: a.qkv, probs: a.probs,
                                     windows: B * g.windowsPerImage, tokens: g.tokensPerWindow, channels: C, heads: nH)
            RelativePosition.scatter(dTable: G + bp.table, dBias: ws.dBias, index: bp.relIndex, heads: nH)
        }
        if let qkvTok = a.qkvTok {
            // Token rows only (see attentionBranchForward); the padding slots' qkv gradient
            // reaches the qkv bias alone.
            Linear.backward(dx: ws.dWinA, dWeight: G + bp.projW, dBias: G + bp.projB, dy: ws.dTok, x: a.attnOut,
                            weight: P + bp.projW, rows: B * L, inFeatures: C, outFeatures: C)
            g.partition(windows: ws.dWinB, tokens: ws.dWinA, batch: B, channels: C)
            attention(ws.dWinB)
            g.reverse(tokens: qkvTok, windows: ws.dQKV, batch: B, channels: 3 * C, accumulate: false)
            g.addPaddingRows(into: G + bp.qkvB, windows: ws.dQKV, batch: B, channels: 3 * C)
            Linear.backward(dx: ws.dTok, dWeight: G + bp.qkvW, dBias: G + bp.qkvB, dy: qkvTok, x: a.xw,
                            weight: P + bp.qkvW, rows: B * L, inFeatures: C, outFeatures: 3 * C)
        } else {
            g.partition(windows: ws.dWinA, tokens: ws.dTok, batch: B, channels: C)
            Linear.backward(dx: ws.dWinB, dWeight: G + bp.projW, dBias: G + bp.projB, dy: ws.dWinA, x: a.attnOut,
                            weight: P + bp.projW, rows: Nw, inFeatures: C, outFeatures: C)
            attention(ws.dWinB)
            Linear.backward(dx: ws.dWinA, dWeight: G + bp.qkvW, dBias: G + bp.qkvB, dy: ws.dQKV, x: a.xw,
                            weight: P + bp.qkvW, rows: Nw, inFeatures: C, outFeatures: 3 * C)
            g.reverse(tokens: ws.dTok, windows: ws.dWinA, batch: B, channels: C, accumulate: false)
        }
        LayerNorm.backward(dx: dStream, accumulate: true, dGamma: G + bp.norm1W, dBeta: G + bp.norm1B, dy: ws.dTok,
                           x: a.xIn, mean: a.mean1, rstd: a.rstd1, gamma: P + bp.norm1W, rows: B * L, channels: C)
    }
}
