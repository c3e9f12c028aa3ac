// The Swin workspace's buffer table: every activation and scratch buffer of one (batch, height,
// width) group, declared by one function per kind of layer (patch embedding, block, patch
// merging, final LayerNorm) with its shape and lifetime. SwinWorkspace lays the table out in
// one BufferArena and binds the pointers.
// Training keeps what the backward reads, one region per block (.perBlock) or merge
// (.perMerge), shares the block's forward-only temporaries (.shared) and adds backward scratch
// shared by all blocks (.scratch). Inference declares every activation .shared (one region per
// name, sized for the largest block) and a single residual "stream" region for x0, every block
// output and every merge output.
// Shape letters: B batch, L = H·W tokens of the grid, C width, N = ws² tokens per window,
// nW windows per image, nH heads, Hd = mlpRatio·C hidden width, p patch size;
// L/4 = ⌈H/2⌉·⌈W/2⌉ merged tokens.
import ESKernels

/// One step of the forward walk: a block with its window geometry (which holds its grid), or
/// the patch merging ending `stage` on an H×W grid.
enum SwinStep {
    case block(Int, WindowGeometry)
    case merge(stage: Int, height: Int, width: Int)
}

/// The forward walk over blocks and merges from the embedding's H×W token grid.
struct SwinWalk {
    let height: Int, width: Int
    let steps: [SwinStep]
    let finalHeight: Int, finalWidth: Int

    init(_ model: SwinModel, height: Int, width: Int) {
        self.height = height; self.width = width
        var H = height, W = width, steps: [SwinStep] = []
        for s in 0..<model.config.numStages {
            for (i, bp) in model.blocks.enumerated() where bp.plan.stage == s {
                steps.append(.block(i, WindowGeometry(height: H, width: W, windowSize: bp.plan.windowSize, shift: bp.plan.shift)))
            }
            if model.merges[s] != nil {
                steps.append(.merge(stage: s, height: H, width: W))
                H = (H + 1) / 2; W = (W + 1) / 2
            }
        }
        self.steps = steps; finalHeight = H; finalWidth = W
    }
}

struct SwinBufferTable {
    let model: SwinModel
    let batch: Int
    let training: Bool

    /// The residual stream buffer called `name` in training; inference has one for the whole pass.
    func stream(_ name: String) -> String { training ? name : "stream" }

    /// What a block or merge keeps: its own region in training, one shared region in inference.
    func kept(_ perInstance: BufferLifetime) -> BufferLifetime { training ? perInstance : .shared }

    /// The whole table, in the order of the forward.
    func entries(_ walk: SwinWalk) -> [BufferEntry] {
        var table = embed(height: walk.height, width: walk.width)
        for step in walk.steps {
            switch step {
            case let .block(i, g): table += block(i, g)
            case let .merge(s, H, W): table += merge(s, height: H, width: W)
            }
        }
        return table + final(tokens: walk.finalHeight * walk.finalWidth)
    }

    func embed(height: Int, width: Int) -> [BufferEntry] {
        let cfg = model.config, BL = batch * height * width, C = cfg.embedDim, p = cfg.patchSize
        var e = [BufferEntry("cols", [BL, cfg.inChans * p * p], "(B·L, 3·p²)", .once),
                 BufferEntry("embedOut", [BL, C], "(B·L, C)", .once),
                 BufferEntry("embedMean", [BL], "(B·L)", .once),
                 BufferEntry("embedRstd", [BL], "(B·L)", .once),
                 BufferEntry(stream("x0"), [BL, C], "(B·L, C)", training ? .once : .shared),
                 BufferEntry("dropKeys", [max(batch, 1)], "(B)", .once, elementBytes: MemoryLayout<UInt64>.stride)]
        if training {
            e += ["dTok", "dStreamA", "dStreamB"].map { BufferEntry($0, [BL, C], "(B·L, C)", .scratch) }
        }
        return e
    }

    func block(_ i: Int, _ g: WindowGeometry) -> [BufferEntry] {
        let bp = model.blocks[i], B = batch, BL = B * g.height * g.width, C = bp.plan.dim, Hd = bp.hiddenDim
        let nW = g.windowsPerImage, N = g.tokensPerWindow, nH = bp.plan.heads, Nw = B * nW * N
        // Kept: what the backward reads. Temporaries (ln1, proj, attnTok, mlpOut, bias) are
        // written and consumed within the block's forward, so they are shared in training too;
        // so is act = GELU(hidden), which the backward recomputes from hidden (one GELU pass
        // instead of a kept (B·L, 4C) buffer per block: a sixth of a training workspace).
        // On a grid with padding (SwinForward.attentionBranchForward) xw and attnOut hold token
        // rows (B·L) instead of window slots, ln1 is not used and proj holds the attention
        // output in slot order; qkvTok is a temporary of the forward and of the backward.
        let keep = kept(.perBlock), temp = BufferLifetime.shared
        let rowsW = g.hasPadding ? BL : Nw, labelW = g.hasPadding ? "(B·L, C)" : "(B·nW·N, C)"
        func e(_ name: String, _ shape: [Int], _ label: String, _ life: BufferLifetime? = nil) -> BufferEntry {
            BufferEntry(name, shape, label, life ?? keep, instance: i)
        }
        var t = [e("ln1", [BL, C], "(B·L, C)", temp), e("mean1", [BL], "(B·L)"), e("rstd1", [BL], "(B·L)"),
                 e("xw", [rowsW, C], labelW), e("qkv", [Nw, 3 * C], "(B·nW·N, 3C)"),
                 e("probs", [B * nW, nH, N, N], "(B·nW, nH, N, N)"),
                 e("attnOut", [rowsW, C], labelW), e("proj", [Nw, C], "(B·nW·N, C)", temp),
                 e("attnTok", [BL, C], "(B·L, C)", temp), e("x1", [BL, C], "(B·L, C)"),
                 e("ln2", [BL, C], "(B·L, C)"), e("mean2", [BL], "(B·L)"), e("rstd2", [BL], "(B·L)"),
                 e("hidden", [BL, Hd], "(B·L, Hd)"), e("act", [BL, Hd], "(B·L, Hd)", temp), e("mlpOut", [BL, C], "(B·L, C)", temp),
                 e(stream("xOut"), [BL, C], "(B·L, C)"), e("bias", [nH, N, N], "(nH, N, N)", temp),
                 e("drop1", [B], "(B)"), e("drop2", [B], "(B)")]
        // A grid with padding runs qkv and proj on its B·L token rows only (SwinForward.swift):
        // qkvTok holds qkv's token rows in the forward and their gradient in the backward.
        if g.hasPadding { t.append(e("qkvTok", [BL, 3 * C], "(B·L, 3C)", temp)) }
        if training {
            t += ["dStreamA", "dStreamB", "dTok"].map { e($0, [BL, C], "(B·L, C)", .scratch) }
            t += [e("dHidden", [BL, Hd], "(B·L, Hd)", .scratch),
                  e("dWinA", [Nw, C], "(B·nW·N, C)", .scratch), e("dWinB", [Nw, C], "(B·nW·N, C)", .scratch),
                  e("dQKV", [Nw, 3 * C], "(B·nW·N, 3C)", .scratch), e("dBias", [nH, N, N], "(nH, N, N)", .scratch)]
        }
        return t
    }

    func merge(_ s: Int, height H: Int, width W: Int) -> [BufferEntry] {
        let C = model.merges[s]!.dim, R = batch * ((H + 1) / 2) * ((W + 1) / 2)
        let keep = kept(.perMerge)
        var t = [BufferEntry("merge.gathered", [R, 4 * C], "(B·L/4, 4C)", keep, instance: s),
                 BufferEntry("merge.ln", [R, 4 * C], "(B·L/4, 4C)", keep, instance: s),
                 BufferEntry("merge.mean", [R], "(B·L/4)", keep, instance: s),
                 BufferEntry("merge.rstd", [R], "(B·L/4)", keep, instance: s),
                 BufferEntry(stream("merge.out"), [R, 2 * C], "(B·L/4, 2C)", keep, instance: s)]
        if training {
            // The stream gradient enters as (B·L/4, 2C) and leaves as (B·L, C): (B·L/4, 4C) holds either.
            t += ["dStreamA", "dStreamB", "dTok", "dHidden"].map { BufferEntry($0, [R, 4 * C], "(B·L/4, 4C)", .scratch) }
        }
        return t
    }

    func final(tokens Lf: Int) -> [BufferEntry] {
        let B = batch, Cf = model.config.numFeatures
        var t = [BufferEntry("finalMean", [B * Lf], "(B·L)", .once), BufferEntry("finalRstd", [B * Lf], "(B·L)", .once),
                 BufferEntry("tokens", [B * Lf, Cf], "(B·L, C)", .once), BufferEntry("pooled", [B, Cf], "(B, C)", .once)]
        if training {
            t += ["dTok", "dStreamA"].map { BufferEntry($0, [B * Lf, Cf], "(B·L, C)", .scratch) }
        }
        return t
    }
}
