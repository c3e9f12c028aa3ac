// Activation workspace for one (batch, height, width) group, sized once up front: the buffers
// declared in SwinBufferTable, laid out in one BufferArena (a single allocation) and bound to
// the fields below. Training mode keeps every activation the backward needs, per block (a
// block's forward-only temporaries ln1, proj, attnTok, mlpOut and bias, act, which the
// backward recomputes, and qkvTok (grids with padding) are shared: after a forward they hold
// the last block's values); inference mode (the teacher, feature extraction) saves nothing: all blocks share one set of
// buffers and one residual stream buffer. Backward scratch is shared across blocks (max sizes).
// Shared and scratch buffers hold nothing between calls, so workspaces used one call at a time
// may take them from one TransientPool (EsViT's teacher and two student workspaces do).
// Shape letters: B batch, L = H·W tokens of the stage, C width, N = ws² tokens per window,
// nW windows per image, nH heads, Hd = mlpRatio·C hidden width.
import ESKernels

public typealias FPtr = UnsafeMutablePointer<Float>

public struct BlockActs {
    public let geometry: WindowGeometry
    public let height: Int, width: Int
    public var tokens: Int { height * width }
    public var xIn: FPtr                       // (B·L, C) stream input (not owned)
    public let ln1, mean1, rstd1: FPtr         // (B·L, C), (B·L), (B·L)
    public let xw, qkv, probs, attnOut, proj: FPtr  // (B·nW·N, C), (·, 3C), (B·nW, nH, N, N), (·, C), (·, C);
                                                    // on a grid with padding xw and attnOut are (B·L, C)
    public let attnTok, x1: FPtr               // (B·L, C)
    public let ln2, mean2, rstd2: FPtr         // (B·L, C), (B·L), (B·L)
    public let hidden, act, mlpOut: FPtr       // (B·L, Hd), (B·L, Hd), (B·L, C)
    public let xOut: FPtr                      // (B·L, C) stream output
    public let bias: FPtr                      // (nH, N, N) gathered relative-position bias
    public let drop1, drop2: FPtr              // (B) DropPath scales
    public let qkvTok: FPtr?                   // (B·L, 3C), only on a grid with padding

    /// Binds the buffers `buffer(name)` of a block on the grid of `g`.
    init(geometry g: WindowGeometry, xIn: FPtr, xOut: FPtr, _ buffer: (String) -> FPtr) {
        geometry = g; height = g.height; width = g.width; self.xIn = xIn; self.xOut = xOut
        ln1 = buffer("ln1"); mean1 = buffer("mean1"); rstd1 = buffer("rstd1")
        xw = buffer("xw"); qkv = buffer("qkv"); probs = buffer("probs"); attnOut = buffer("attnOut"); proj = buffer("proj")
        attnTok = buffer("attnTok"); x1 = buffer("x1")
        ln2 = buffer("ln2"); mean2 = buffer("mean2"); rstd2 = buffer("rstd2")
        hidden = buffer("hidden"); act = buffer("act"); mlpOut = buffer("mlpOut")
        bias = buffer("bias"); drop1 = buffer("drop1"); drop2 = buffer("drop2")
        qkvTok = g.hasPadding ? buffer("qkvTok") : nil
    }
}

public struct MergeActs {
    public let height: Int, width: Int         // input grid
    public let gathered, ln, mean, rstd: FPtr  // (B·L/4, 4C), (B·L/4, 4C), (B·L/4), (B·L/4)
    public let out: FPtr                       // (B·L/4, 2C) stream
}

public final class SwinWorkspace: @unchecked Sendable {
    public let batch: Int, imageHeight: Int, imageWidth: Int
    public let training: Bool
    public let cols, embedOut, embedMean, embedRstd, x0: FPtr
    public let blocks: [BlockActs]
    public let merges: [MergeActs?]
    public let finalMean, finalRstd: FPtr
    /// Final-LayerNorm token map (B, Lf, Cf) and its mean over tokens (B, Cf).
    public let tokens, pooled: FPtr
    public let finalTokens: Int, finalDim: Int
    // Backward scratch (training only; an inference workspace points them at `cols`, unused
    // since backward refuses it).
    let dStreamA, dStreamB, dTok, dWinA, dWinB, dQKV, dHidden, dBias: FPtr
    public let dropKeys: UnsafeMutablePointer<UInt64>
    /// Every buffer above, in one allocation (the shared and scratch ones in `arena.pool` if it has one).
    public let arena: BufferArena
    /// Bytes this workspace allocated: activations, scratch, DropPath keys and alignment
    /// padding (without the shared and scratch buffers when they live in a TransientPool).
    public var bytes: Int { arena.ownedBytes }

    /// `transient`: where the shared and scratch buffers live (nil: in the workspace's own arena);
    /// size it with `layout(...)` of every workspace that will share it.
    public init(model: SwinModel, batch B: Int, height: Int, width: Int, training: Bool, transient: TransientPool? = nil) {
        batch = B; imageHeight = height; imageWidth = width; self.training = training
        let walk = SwinWalk(model, height: height / model.config.patchSize, width: width / model.config.patchSize)
        let table = SwinBufferTable(model: model, batch: B, training: training)
        let arena = BufferArena(SwinWorkspace.layout(model: model, batch: B, height: height, width: width, training: training),
                                transient: transient)
        self.arena = arena
        let cfg = model.config
        func f(_ name: String) -> FPtr { arena.floats(name) }
        cols = f("cols"); embedOut = f("embedOut"); embedMean = f("embedMean"); embedRstd = f("embedRstd")
        x0 = f(table.stream("x0"))
        (blocks, merges) = SwinWorkspace.bind(walk, table, arena, x0: x0)
        finalTokens = walk.finalHeight * walk.finalWidth; finalDim = cfg.numFeatures
        finalMean = f("finalMean"); finalRstd = f("finalRstd"); tokens = f("tokens"); pooled = f("pooled")
        let unused = cols
        func scratch(_ name: String) -> FPtr { training ? arena.floats(name) : unused }
        dStreamA = scratch("dStreamA"); dStreamB = scratch("dStreamB"); dTok = scratch("dTok"); dHidden = scratch("dHidden")
        dWinA = scratch("dWinA"); dWinB = scratch("dWinB"); dQKV = scratch("dQKV"); dBias = scratch("dBias")
        dropKeys = arena.pointer("dropKeys", as: UInt64.self)
    }

    /// Each block and merge bound to its buffers, the stream chained from x0 through them.
    static func bind(_ walk: SwinWalk, _ table: SwinBufferTable, _ arena: BufferArena,
                     x0: FPtr) -> ([BlockActs], [MergeActs?]) {
        var blocks: [BlockActs] = [], merges = [MergeActs?](repeating: nil, count: table.model.config.numStages)
        var prev = x0
        for step in walk.steps {
            switch step {
            case let .block(i, g):
                let a = BlockActs(geometry: g, xIn: prev, xOut: arena.floats(table.stream("xOut"), i)) { arena.floats($0, i) }
                blocks.append(a); prev = a.xOut
            case let .merge(s, H, W):
                let m = MergeActs(height: H, width: W, gathered: arena.floats("merge.gathered", s), ln: arena.floats("merge.ln", s),
                                  mean: arena.floats("merge.mean", s), rstd: arena.floats("merge.rstd", s),
                                  out: arena.floats(table.stream("merge.out"), s))
                merges[s] = m; prev = m.out
            }
        }
        return (blocks, merges)
    }

    /// The per-buffer memory table of this workspace.
    public func memoryReport() -> String {
        var title = SwinWorkspace.title(training: training, batch: batch, height: imageHeight, width: imageWidth)
        if let pool = arena.pool {
            title += "; its shared and scratch buffers (\(formatMiB(arena.layout.transientBytes)) of the total below) lie in a transient pool of \(formatMiB(pool.bytes)) shared with other workspaces"
        }
        return arena.layout.report(title: title)
    }

    /// Where a workspace's buffers would lie, without allocating them.
    public static func layout(model: SwinModel, batch: Int, height: Int, width: Int, training: Bool) -> BufferLayout {
        let p = model.config.patchSize
        precondition(height % p == 0 && width % p == 0, "input \(height)×\(width) is not a multiple of the patch size \(p)")
        let walk = SwinWalk(model, height: height / p, width: width / p)
        return BufferLayout(SwinBufferTable(model: model, batch: batch, training: training).entries(walk))
    }

    /// The per-buffer memory table a workspace would have, without allocating it.
    public static func memoryReport(model: SwinModel, batch: Int, height: Int, width: Int, training: Bool) -> String {
        layout(model: model, batch: batch, height: height, width: width, training: training)
            .report(title: title(training: training, batch: batch, height: height, width: width))
    }

    static func title(training: Bool, batch: Int, height: Int, width: Int) -> String {
        "Swin workspace, \(training ? "training" : "inference"), batch \(batch), \(height)×\(width) px"
    }

    /// The stream tensor entering the final LayerNorm.
    var lastStream: FPtr { merges.last??.out ?? blocks.last!.xOut }
}
