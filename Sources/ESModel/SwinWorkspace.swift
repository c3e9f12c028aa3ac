// Activation workspace for one (batch, height, width) group, sized once up front.
// Training mode keeps every activation the backward needs, per block; inference mode (the
// teacher, feature extraction) saves nothing: all blocks share one set of buffers and one
// residual stream buffer. Backward scratch is shared across blocks (max sizes).
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
    public let xw, qkv, probs, attnOut, proj: FPtr  // (B·nW·N, C), (·, 3C), (B·nW, nH, N, N), (·, C), (·, C)
    public let attnTok, x1: FPtr               // (B·L, C)
    public let ln2, mean2, rstd2: FPtr         // (B·L, C), (B·L), (B·L)
    public let hidden, act, mlpOut: FPtr       // (B·L, Hd), (B·L, Hd), (B·L, C)
    public let xOut: FPtr                      // (B·L, C) stream output
    public let bias: FPtr                      // (nH, N, N) gathered relative-position bias
    public let drop1, drop2: FPtr              // (B) DropPath scales
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
    public private(set) var blocks: [BlockActs] = []
    public private(set) var merges: [MergeActs?] = []
    public let finalMean, finalRstd: FPtr
    /// Final-LayerNorm token map (B, Lf, Cf) and its mean over tokens (B, Cf).
    public let tokens, pooled: FPtr
    public let finalTokens: Int, finalDim: Int
    // Backward scratch (training only).
    let dStreamA, dStreamB, dTok, dWinA, dWinB, dQKV, dHidden, dBias: FPtr
    public let dropKeys: UnsafeMutablePointer<UInt64>
    private var storage: [FloatBuffer] = []
    public private(set) var bytes = 0

    public init(model: SwinModel, batch B: Int, height: Int, width: Int, training: Bool) {
        let cfg = model.config
        precondition(height % cfg.patchSize == 0 && width % cfg.patchSize == 0,
                     "input \(height)×\(width) is not a multiple of the patch size \(cfg.patchSize)")
        batch = B; imageHeight = height; imageWidth = width; self.training = training
        var shared: [String: FPtr] = [:]
        // First every slot records the size it needs (the max over its users); then storage is made.
        var sizes: [String: Int] = [:]
        func plan(_ name: String, _ n: Int) { sizes[name] = max(sizes[name] ?? 0, n) }
        let p = cfg.patchSize, C0 = cfg.embedDim
        var H = height / p, W = width / p
        // Slot naming: training → unique per block; inference → one name per kind.
        func slot(_ i: Int, _ kind: String) -> String { training ? "\(i).\(kind)" : kind }
        let stream = "stream"
        plan("cols", B * H * W * C0 == 0 ? 1 : B * H * W * cfg.inChans * p * p)
        plan("embedOut", B * H * W * C0); plan("embedMean", B * H * W); plan("embedRstd", B * H * W)
        plan(training ? "x0" : stream, B * H * W * C0)
        var maxTok = B * H * W * C0, maxWin = 0, maxQKV = 0, maxHid = 0, maxBias = 0
        var geos: [WindowGeometry] = [], grids: [(Int, Int)] = [], mergeGrids: [(Int, Int)?] = []
        for s in 0..<cfg.numStages {
            for (i, bp) in model.blocks.enumerated() where bp.plan.stage == s {
                let C = bp.plan.dim, L = H * W
                let g = WindowGeometry(height: H, width: W, windowSize: bp.plan.windowSize, shift: bp.plan.shift)
                geos.append(g); grids.append((H, W))
                let Nw = B * g.windowsPerImage * g.tokensPerWindow
                for k in ["ln1", "attnTok", "x1", "ln2", "mlpOut"] { plan(slot(i, k), B * L * C) }
                for k in ["mean1", "rstd1", "mean2", "rstd2"] { plan(slot(i, k), B * L) }
                for k in ["xw", "attnOut", "proj"] { plan(slot(i, k), Nw * C) }
                plan(slot(i, "qkv"), Nw * 3 * C)
                plan(slot(i, "probs"), B * g.windowsPerImage * bp.plan.heads * g.tokensPerWindow * g.tokensPerWindow)
                plan(slot(i, "hidden"), B * L * bp.hiddenDim); plan(slot(i, "act"), B * L * bp.hiddenDim)
                plan(training ? "\(i).xOut" : stream, B * L * C)
                plan(slot(i, "bias"), bp.plan.heads * g.tokensPerWindow * g.tokensPerWindow)
                plan(slot(i, "drop1"), B); plan(slot(i, "drop2"), B)
                maxTok = max(maxTok, B * L * C); maxWin = max(maxWin, Nw * C); maxQKV = max(maxQKV, Nw * 3 * C)
                maxHid = max(maxHid, B * L * bp.hiddenDim)
                maxBias = max(maxBias, bp.plan.heads * g.tokensPerWindow * g.tokensPerWindow)
            }
            if let m = model.merges[s] {
                let H2 = (H + 1) / 2, W2 = (W + 1) / 2, C = m.dim
                mergeGrids.append((H, W))
                plan(slot(1000 + s, "gathered"), B * H2 * W2 * 4 * C); plan(slot(1000 + s, "mln"), B * H2 * W2 * 4 * C)
                plan(slot(1000 + s, "mmean"), B * H2 * W2); plan(slot(1000 + s, "mrstd"), B * H2 * W2)
                plan(training ? "\(1000 + s).mout" : stream, B * H2 * W2 * 2 * C)
                maxTok = max(maxTok, B * H2 * W2 * 4 * C)
                H = H2; W = W2
            } else {
                mergeGrids.append(nil)
            }
        }
        let Lf = H * W, Cf = cfg.numFeatures
        finalTokens = Lf; finalDim = Cf
        plan("finalMean", B * Lf); plan("finalRstd", B * Lf); plan("tokens", B * Lf * Cf); plan("pooled", B * Cf)
        if training {
            for k in ["dStreamA", "dStreamB", "dTok"] { plan(k, maxTok) }
            plan("dWinA", maxWin); plan("dWinB", maxWin); plan("dQKV", maxQKV)
            plan("dHidden", max(maxHid, maxTok)); plan("dBias", maxBias)
        } else {
            for k in ["dStreamA", "dStreamB", "dTok", "dWinA", "dWinB", "dQKV", "dHidden", "dBias"] { plan(k, 1) }
        }
        var total = 0
        for (name, n) in sizes.sorted(by: { $0.key < $1.key }) {
            let buf = FloatBuffer(count: n)
            storage.append(buf); shared[name] = buf.pointer; total += n
        }
        bytes = total * 4
        func get(_ name: String) -> FPtr { shared[name]! }
        cols = get("cols"); embedOut = get("embedOut"); embedMean = get("embedMean"); embedRstd = get("embedRstd")
        x0 = get(training ? "x0" : stream)
        var prev = x0
        for s in 0..<cfg.numStages {
            for (i, bp) in model.blocks.enumerated() where bp.plan.stage == s {
                let a = BlockActs(
                    geometry: geos[i], height: grids[i].0, width: grids[i].1, xIn: prev,
                    ln1: get(slot(i, "ln1")), mean1: get(slot(i, "mean1")), rstd1: get(slot(i, "rstd1")),
                    xw: get(slot(i, "xw")), qkv: get(slot(i, "qkv")), probs: get(slot(i, "probs")),
                    attnOut: get(slot(i, "attnOut")), proj: get(slot(i, "proj")),
                    attnTok: get(slot(i, "attnTok")), x1: get(slot(i, "x1")),
                    ln2: get(slot(i, "ln2")), mean2: get(slot(i, "mean2")), rstd2: get(slot(i, "rstd2")),
                    hidden: get(slot(i, "hidden")), act: get(slot(i, "act")), mlpOut: get(slot(i, "mlpOut")),
                    xOut: get(training ? "\(i).xOut" : stream), bias: get(slot(i, "bias")),
                    drop1: get(slot(i, "drop1")), drop2: get(slot(i, "drop2")))
                blocks.append(a); prev = a.xOut
            }
            if model.merges[s] != nil, let (mh, mw) = mergeGrids[s] {
                let m = MergeActs(height: mh, width: mw, gathered: get(slot(1000 + s, "gathered")),
                                  ln: get(slot(1000 + s, "mln")), mean: get(slot(1000 + s, "mmean")),
                                  rstd: get(slot(1000 + s, "mrstd")), out: get(training ? "\(1000 + s).mout" : stream))
                merges.append(m); prev = m.out
            } else {
                merges.append(nil)
            }
        }
        finalMean = get("finalMean"); finalRstd = get("finalRstd"); tokens = get("tokens"); pooled = get("pooled")
        dStreamA = get("dStreamA"); dStreamB = get("dStreamB"); dTok = get("dTok")
        dWinA = get("dWinA"); dWinB = get("dWinB"); dQKV = get("dQKV"); dHidden = get("dHidden"); dBias = get("dBias")
        dropKeys = UnsafeMutablePointer<UInt64>.allocate(capacity: max(B, 1))
        dropKeys.initialize(repeating: 0, count: max(B, 1))
    }

    deinit { dropKeys.deallocate() }

    /// The stream tensor entering the final LayerNorm.
    var lastStream: FPtr { merges.last??.out ?? blocks.last!.xOut }
}
