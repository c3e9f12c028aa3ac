// Swin forward (docs/algorithm.md §1.2-1.7): patch embed → stages of (shifted-)window blocks with patch
// merging → final LayerNorm → mean pooling. Writes ws.tokens (B, L, C) and ws.pooled (B, C).
// DropPath is active only when `dropPathKeys` (one key per sample) is given and the block's rate
// is > 0; the teacher and evaluation pass nil.
import ESKernels

extension SwinModel {
    /// `blockOutput`, when given, sees every block's output stream (B·L, C) right after the block
    /// (before any merging), with the block's plan and token count: evaluation reads the last
    /// blocks from it (linear probe features).
    public func forward(params P: UnsafePointer<Float>, image: UnsafePointer<Float>,
                        workspace ws: SwinWorkspace, dropPathKeys: [UInt64]? = nil,
                        blockOutput: ((_ plan: BlockPlan, _ x: UnsafePointer<Float>, _ tokens: Int) -> Void)? = nil) {
        let cfg = config, B = ws.batch, eps = cfg.layerNormEps, p = cfg.patchSize
        let H0 = ws.imageHeight / p, W0 = ws.imageWidth / p, L0 = H0 * W0, C0 = cfg.embedDim
        if let keys = dropPathKeys {
            precondition(keys.count == B, "one DropPath key per sample")
            for b in 0..<B { ws.dropKeys[b] = keys[b] }
        }
        PatchEmbed.im2col(cols: ws.cols, image: image, batch: B, channels: cfg.inChans,
                          height: ws.imageHeight, width: ws.imageWidth, patch: p)
        Linear.forward(y: ws.embedOut, x: ws.cols, weight: P + embedW, bias: P + embedB,
                       rows: B * L0, inFeatures: cfg.inChans * p * p, outFeatures: C0)
        LayerNorm.forward(y: ws.x0, mean: ws.embedMean, rstd: ws.embedRstd, x: ws.embedOut,
                          gamma: P + embedNormW, beta: P + embedNormB, rows: B * L0, channels: C0, eps: eps)
        var bi = 0
        for s in 0..<cfg.numStages {
            while bi < blocks.count && blocks[bi].plan.stage == s {
                blockForward(blocks[bi], ws.blocks[bi], P, B, dropPath: dropPathKeys != nil ? ws.dropKeys : nil)
                blockOutput?(blocks[bi].plan, ws.blocks[bi].xOut, ws.blocks[bi].tokens)
                bi += 1
            }
            if let m = merges[s], let a = ws.merges[s] {
                let H2 = (a.height + 1) / 2, W2 = (a.width + 1) / 2, rows = B * H2 * W2, C = m.dim
                PatchMerge.gather(out: a.gathered, x: ws.blocks[bi - 1].xOut, batch: B, height: a.height, width: a.width, channels: C)
                LayerNorm.forward(y: a.ln, mean: a.mean, rstd: a.rstd, x: a.gathered, gamma: P + m.normW, beta: P + m.normB,
                                  rows: rows, channels: 4 * C, eps: eps)
                Linear.forward(y: a.out, x: a.ln, weight: P + m.reduction, bias: nil, rows: rows, inFeatures: 4 * C, outFeatures: 2 * C)
            }
        }
        let Lf = ws.finalTokens, Cf = ws.finalDim
        LayerNorm.forward(y: ws.tokens, mean: ws.finalMean, rstd: ws.finalRstd, x: ws.lastStream,
                          gamma: P + normW, beta: P + normB, rows: B * Lf, channels: Cf, eps: eps)
        TokenPool.meanForward(pooled: ws.pooled, tokens: ws.tokens, batch: B, tokens: Lf, channels: Cf)
    }

    func blockForward(_ bp: BlockParams, _ a: BlockActs, _ P: UnsafePointer<Float>, _ B: Int,
                      dropPath keys: UnsafeMutablePointer<UInt64>?) {
        let C = bp.plan.dim, L = a.tokens, eps = config.layerNormEps
        attentionBranchForward(bp, a, P, B)
        let useDrop = keys != nil && bp.plan.dropPath > 0
        if let keys, useDrop {
            let site = UInt64(bp.plan.globalIndex) * 2
            DropPath.scales(into: a.drop1, sampleKeys: keys, batch: B, rate: bp.plan.dropPath, site: site)
            DropPath.scales(into: a.drop2, sampleKeys: keys, batch: B, rate: bp.plan.dropPath, site: site + 1)
        } else {
            a.drop1.update(repeating: 1, count: B); a.drop2.update(repeating: 1, count: B)
        }
        DropPath.residualForward(y: a.x1, x: a.xIn, branch: a.attnTok, scales: useDrop ? a.drop1 : nil,
                                 batch: B, rowsPerSample: L, channels: C)
        LayerNorm.forward(y: a.ln2, mean: a.mean2, rstd: a.rstd2, x: a.x1, gamma: P + bp.norm2W, beta: P + bp.norm2B,
                          rows: B * L, channels: C, eps: eps)
        Linear.forward(y: a.hidden, x: a.ln2, weight: P + bp.fc1W, bias: P + bp.fc1B, rows: B * L, inFeatures: C, outFeatures: bp.hiddenDim)
        GELU.forward(y: a.act, x: a.hidden, count: B * L * bp.hiddenDim)
        Linear.forward(y: a.mlpOut, x: a.act, weight: P + bp.fc2W, bias: P + bp.fc2B, rows: B * L, inFeatures: bp.hiddenDim, outFeatures: C)
        DropPath.residualForward(y: a.xOut, x: a.x1, branch: a.mlpOut, scales: useDrop ? a.drop2 : nil,
                                 batch: B, rowsPerSample: L, channels: C)
    }

    /// attnTok (B·L, C) = reverse(proj(attention(qkv(partition(LN1(xIn)))))).
    /// On a grid with padding, qkv and proj run on the B·L token rows only: a padding token is
    /// zero after LN1, so its qkv row is the bias (written into its slots), and its attention
    /// output is cropped by `reverse`. Then xw keeps LN1's output in token order and attnOut
    /// the attention output in token order (what the backward's weight gradients read).
    func attentionBranchForward(_ bp: BlockParams, _ a: BlockActs, _ P: UnsafePointer<Float>, _ B: Int) {
        let C = bp.plan.dim, L = a.tokens, g = a.geometry, eps = config.layerNormEps
        let Nw = B * g.windowsPerImage * g.tokensPerWindow
        RelativePosition.gather(bias: a.bias, table: P + bp.table, index: bp.relIndex, heads: bp.plan.heads)
        func attention(into out: FPtr) {
            WindowAttention.forward(out: out, probs: a.probs, qkv: a.qkv, bias: a.bias,
                                    mask: g.mask.map { UnsafePointer($0.pointer) }, windowsPerImage: g.windowsPerImage,
                                    windows: B * g.windowsPerImage, tokens: g.tokensPerWindow, channels: C, heads: bp.plan.heads)
        }
        // LN1 is kept in token order: in xw itself on a padded grid (qkv runs on token rows), else in ln1.
        LayerNorm.forward(y: a.qkvTok == nil ? a.ln1 : a.xw, mean: a.mean1, rstd: a.rstd1, x: a.xIn,
                          gamma: P + bp.norm1W, beta: P + bp.norm1B, rows: B * L, channels: C, eps: eps)
        if let qkvTok = a.qkvTok {
            Linear.forward(y: qkvTok, x: a.xw, weight: P + bp.qkvW, bias: P + bp.qkvB, rows: B * L, inFeatures: C, outFeatures: 3 * C)
            g.partition(windows: a.qkv, tokens: qkvTok, batch: B, channels: 3 * C, fill: P + bp.qkvB)
            attention(into: a.proj)
            g.reverse(tokens: a.attnOut, windows: a.proj, batch: B, channels: C, accumulate: false)
            Linear.forward(y: a.attnTok, x: a.attnOut, weight: P + bp.projW, bias: P + bp.projB, rows: B * L, inFeatures: C, outFeatures: C)
        } else {
            g.partition(windows: a.xw, tokens: a.ln1, batch: B, channels: C)
            Linear.forward(y: a.qkv, x: a.xw, weight: P + bp.qkvW, bias: P + bp.qkvB, rows: Nw, inFeatures: C, outFeatures: 3 * C)
            attention(into: a.attnOut)
            Linear.forward(y: a.proj, x: a.attnOut, weight: P + bp.projW, bias: P + bp.projB, rows: Nw, inFeatures: C, outFeatures: C)
            g.reverse(tokens: a.attnTok, windows: a.proj, batch: B, channels: C, accumulate: false)
        }
    }
}
