// Evaluation features (docs/algorithm.md §7.1): every image goes through torchvision's evaluation transform
// — Resize(short side ⌊G·256/224⌋, bicubic) then CenterCrop(G) — and normalisation, then the
// frozen backbone; the feature is the pooled, final-LayerNorm output, L2-normalised. Extraction
// is sharded over ranks in whole batches (rank r takes batches r, r + W, …) and the features are
// summed into every rank (each row is written by exactly one rank). Unreadable images get a zero
// feature and are counted.
import ESData
import ESDistributed
import ESKernels
import ESModel
import Foundation

/// Classes to score: the dataset's class names, or more when some labels lie beyond them.
public func classCount(_ source: ImageSource, _ features: Features...) -> Int {
    features.reduce(source.classNames.count) { max($0, Int(($1.labels.max() ?? 0) + 1)) }
}

public enum EvalTransform {
    /// Resize(⌊G·256/224⌋) + CenterCrop(G) of `img`, normalised, into `dst` (3, G, G).
    public static func apply(_ img: RGBImage, size G: Int, mean: [Float], std: [Float], into dst: UnsafeMutablePointer<Float>) {
        MultiCrop.normalize(crop(img, size: G), mean: mean, std: std, into: dst)
    }

    /// Resize(⌊G·256/224⌋) + CenterCrop(G) of `img`, 8-bit.
    public static func crop(_ img: RGBImage, size G: Int) -> RGBImage {
        let s = G * 256 / 224
        // torchvision Resize(int): the short side becomes s, the long side int(s · long / short).
        let (w, h) = img.width <= img.height ? (s, Int(Double(s) * Double(img.height) / Double(img.width)))
                                             : (Int(Double(s) * Double(img.width) / Double(img.height)), s)
        let resized = ImageOps.cropResize(img, box: CropBox(top: 0, left: 0, height: img.height, width: img.width), outWidth: w, outHeight: h)
        // CenterCrop: offsets int(round((size − G) / 2)) as torchvision computes them — Python's
        // round, which rounds halves to even (4.5 → 4).
        let top = Int((Double(h - G) / 2).rounded(.toNearestOrEven)), left = Int((Double(w - G) / 2).rounded(.toNearestOrEven))
        return ImageOps.cropResize(resized, box: CropBox(top: top, left: left, height: G, width: G), outWidth: G, outHeight: G)
    }
}

public struct Features {
    /// (count, dim) row-major, L2-normalised rows.
    public let values: FloatBuffer
    public let count: Int, dim: Int
    public let labels: [Int32]
    public let unreadable: Int
    public init(values: FloatBuffer, count: Int, dim: Int, labels: [Int32], unreadable: Int) {
        self.values = values; self.count = count; self.dim = dim; self.labels = labels; self.unreadable = unreadable
    }
}

/// What is read from the backbone.
public enum FeatureKind: Sendable, Equatable {
    /// k-NN: the pooled final-LayerNorm output, L2-normalised.
    case pooledNormalized
    /// Linear probe (docs/algorithm.md §7.2, `forward_return_n_last_blocks`): the token-averaged outputs of the
    /// last n blocks, concatenated; blocks of the last stage pass through the final LayerNorm
    /// first, earlier ones (taken before PatchMerging) do not. Not normalised.
    case lastBlocks(Int)

    func dim(_ cfg: SwinConfig) -> Int {
        switch self {
        case .pooledNormalized: return cfg.numFeatures
        case .lastBlocks(let n): return lastBlocks(cfg, n).reduce(0) { $0 + cfg.stageDim($1.stage) }
        }
    }

    /// (global block index, stage) of the last n blocks, in order.
    func lastBlocks(_ cfg: SwinConfig, _ n: Int) -> [(index: Int, stage: Int)] {
        let all = cfg.depths.enumerated().flatMap { s, d in (0..<d).map { _ in s } }
        return all.enumerated().suffix(n).map { ($0.offset, $0.element) }
    }
}

/// Features of one batch of prepared (normalised) images, with its workspace and scratch.
public final class FeatureComputer {
    public let backbone: EvalBackbone
    public let kind: FeatureKind
    public let batch: Int, dim: Int
    let ws: SwinWorkspace
    var columns: [Int: (offset: Int, stage: Int)] = [:]
    let lnY, lnMean, lnRstd, pooledScratch: FloatBuffer

    public init(_ backbone: EvalBackbone, kind: FeatureKind, batch B: Int) {
        let cfg = backbone.config, G = backbone.inputSize
        self.backbone = backbone; self.kind = kind; batch = B; dim = kind.dim(cfg)
        ws = SwinWorkspace(model: backbone.model, batch: B, height: G, width: G, training: false)
        // Linear-probe features: where each of the last blocks goes in the row, and LayerNorm scratch.
        if case .lastBlocks(let n) = kind {
            var off = 0
            for b in kind.lastBlocks(cfg, n) { columns[b.index] = (off, b.stage); off += cfg.stageDim(b.stage) }
        }
        let maxRows = B * (G / cfg.patchSize) * (G / cfg.patchSize)
        lnY = FloatBuffer(count: columns.isEmpty ? 1 : maxRows * cfg.numFeatures)
        lnMean = FloatBuffer(count: columns.isEmpty ? 1 : maxRows); lnRstd = FloatBuffer(count: columns.isEmpty ? 1 : maxRows)
        pooledScratch = FloatBuffer(count: B * max(dim, 1))
    }

    /// Rows 0..<n of `out` (n × dim) from `images` (batch × 3 × G × G; rows ≥ n are ignored).
    public func compute(images: UnsafePointer<Float>, count n: Int, into out: UnsafeMutablePointer<Float>) {
        let cfg = backbone.config, B = batch, C = dim
        switch kind {
        case .pooledNormalized:
            backbone.model.forward(params: backbone.params.pointer, image: images, workspace: ws)
            var norms = [Float](repeating: 0, count: n)
            L2Normalize.forward(y: out, norms: &norms, x: ws.pooled, rows: n, dim: C)
        case .lastBlocks:
            let P = backbone.params.pointer, last = cfg.numStages - 1
            backbone.model.forward(params: P, image: images, workspace: ws) { plan, x, L in
                guard let col = self.columns[plan.globalIndex] else { return }
                let Cb = plan.dim
                var src = x
                if col.stage == last {
                    LayerNorm.forward(y: self.lnY.pointer, mean: self.lnMean.pointer, rstd: self.lnRstd.pointer, x: x,
                                      gamma: P + self.backbone.model.normW, beta: P + self.backbone.model.normB, rows: B * L, channels: Cb,
                                      eps: cfg.layerNormEps)
                    src = UnsafePointer(self.lnY.pointer)
                }
                TokenPool.meanForward(pooled: self.pooledScratch.pointer, tokens: src, batch: B, tokens: L, channels: Cb)
                for j in 0..<n { (out + j * C + col.offset).update(from: self.pooledScratch.pointer + j * Cb, count: Cb) }
            }
        }
    }
}

public enum FeatureExtractor {
    /// Features of the first `limit` (default all) images of `source`.
    public static func extract(_ backbone: EvalBackbone, source: ImageSource, limit: Int? = nil, batch: Int = 128,
                               mean: [Float], std: [Float], comm: Communicator, what: String, kind: FeatureKind = .pooledNormalized,
                               progress: (String) -> Void) -> Features {
        let N = min(limit ?? source.count, source.count), G = backbone.inputSize
        let B = max(1, min(batch, N))
        let computer = FeatureComputer(backbone, kind: kind, batch: B)
        let C = computer.dim
        let images = FloatBuffer(count: B * 3 * G * G)
        let out = FloatBuffer(count: N * C)
        var meta = [Double](repeating: 0, count: N + 1)     // labels, then the unreadable count
        let batches = (N + B - 1) / B
        // This rank's share: the images of every comm.size-th batch, from batch comm.rank.
        let share = stride(from: comm.rank, to: batches, by: comm.size).reduce(0) { $0 + min(B, N - $1 * B) }
        let t0 = DispatchTime.now().uptimeNanoseconds
        var lastReport = 0.0, done = 0
        let lock = NSLock()
        for bi in stride(from: comm.rank, to: batches, by: comm.size) {
            let first = bi * B, n = min(B, N - first)
            images.zero()
            var bad = 0
            DispatchQueue.concurrentPerform(iterations: n) { j in
                let i = first + j
                do {
                    let img = try source.load(i, minShortSide: 0)
                    EvalTransform.apply(img, size: G, mean: mean, std: std, into: images.pointer + j * 3 * G * G)
                } catch { lock.lock(); bad += 1; lock.unlock() }
            }
            computer.compute(images: images.pointer, count: n, into: out.pointer + first * C)
            for j in 0..<n { meta[first + j] = Double(source.label(first + j)) }
            meta[N] += Double(bad)
            done += n
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            if elapsed - lastReport > 10 || done >= share {
                lastReport = elapsed
                let eta = elapsed / Double(done) * Double(share - done)
                progress(String(format: "  %@: %d/%d images%@, %.0f img/s, ETA %.0fs", what, done, share, comm.size > 1 ? " (rank 0's share)" : "",
                                Double(done) / max(elapsed, 1e-9), eta))
            }
        }
        comm.allReduceSum(out.pointer, count: N * C)
        meta.withUnsafeMutableBufferPointer { comm.allReduceSum($0.baseAddress!, count: N + 1) }
        return Features(values: out, count: N, dim: C, labels: meta[0..<N].map { Int32($0) }, unreadable: Int(meta[N]))
    }
}
