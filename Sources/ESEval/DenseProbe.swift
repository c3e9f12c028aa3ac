// The linear segmentation probe of `esvit eval-dense`: a per-token linear classifier on the frozen
// final-stage tokens (after the final LayerNorm, L2-normalised; the tokens EsViT's region loss
// matches), or on those concatenated with earlier stages' tokens at the finest grid, trained on the train scenes with each token's target the majority class of its
// cell of the label map, then scored on the test scenes at pixel level: the token logits are
// upsampled bilinearly to the input grid (align_corners false, as F.interpolate), the argmax is
// each pixel's class (at the scenes' 64 px, whatever the input size), and mIoU (over the classes that occur in truth or prediction) and pixel
// accuracy come from the confusion matrix over all test pixels. One classifier per base lr is
// trained on the same batches (SGD with momentum, cosine schedule: the image-level probe's).
import ESData
import ESKernels
import ESModel
import Foundation

/// Frozen token features and label maps of `count` scenes.
public struct DenseData {
    /// (count · side², dim), L2-normalised rows.
    public let tokens: FloatBuffer
    /// (count, size, size) class per pixel, at the scenes' own size (the input may be resized).
    public let labels: [UInt8]
    public let count: Int, side: Int, dim: Int, size: Int
    public init(tokens: FloatBuffer, labels: [UInt8], count: Int, side: Int, dim: Int, size: Int) {
        self.tokens = tokens; self.labels = labels; self.count = count; self.side = side; self.dim = dim; self.size = size
    }

    /// The first `count` scenes of `scenes` through `backbone` (the image resized to the input size
    /// when it differs; the labels stay at the scenes' size, which the whole frame maps onto), `batch` at a time.
    /// `stages` > 1 concatenates the outputs of that many last stages at the finest of their grids:
    /// each stage's token (its last block's output; the final stage's after the final LayerNorm)
    /// L2-normalised on its own and repeated over the finer cells it covers (nearest upsampling).
    public static func extract(_ backbone: EvalBackbone, scenes: FashionScenes, count: Int, mean: [Float], std: [Float], batch: Int,
                               stages: Int = 1, progress: (Int, Int) -> Void = { _, _ in }) -> DenseData {
        let G = backbone.inputSize, B = max(1, min(batch, count)), per = 3 * G * G, cfg = backbone.config
        let ws = SwinWorkspace(model: backbone.model, batch: B, height: G, width: G, training: false)
        let maps = stageMaps(cfg, grid: G / cfg.patchSize, stages: stages)
        let side = maps.map(\.side).max()!, D = maps.reduce(0) { $0 + $1.dim }, L = side * side
        precondition(maps.last!.side * maps.last!.side == ws.finalTokens, "square input expected")
        let tokens = FloatBuffer(count: count * L * D), x = FloatBuffer(count: B * per)
        let S = FashionScenes.canvas
        var labels = [UInt8](repeating: 0, count: count * S * S)
        var norms = [Float](repeating: 0, count: B * L)
        let unit = FloatBuffer(count: B * L * maps.map(\.dim).max()!)
        var done = 0, n = 0
        // One stage's tokens (rows n·side_s², L2-normalised here) into its columns of every finer cell.
        func place(_ m: StageMap, _ values: UnsafePointer<Float>) {
            let l = m.side * m.side
            L2Normalize.forward(y: unit.pointer, norms: &norms, x: values, rows: n * l, dim: m.dim)
            for k in 0..<n {
                for t in 0..<L {
                    let src = ((t / side) * m.side / side) * m.side + (t % side) * m.side / side
                    (tokens.pointer + ((done + k) * L + t) * D + m.offset).update(from: unit.pointer + (k * l + src) * m.dim, count: m.dim)
                }
            }
        }
        let ends = Dictionary(uniqueKeysWithValues: maps.dropLast().map { (cfg.depths[0...$0.stage].reduce(0, +) - 1, $0) })
        while done < count {
            n = min(B, count - done)
            x.zero()
            for k in 0..<n {
                let (image, map) = scenes.scene(done + k)
                let input = S == G ? image : ImageOps.cropResize(image, box: CropBox(top: 0, left: 0, height: S, width: S), outWidth: G, outHeight: G)
                MultiCrop.normalize(input, mean: mean, std: std, into: x.pointer + k * per)
                labels.replaceSubrange(((done + k) * S * S)..<((done + k + 1) * S * S), with: map)
            }
            // Earlier stages are taken as their last block finishes (the inference workspace
            // reuses one stream buffer), the final stage from the normalised tokens at the end.
            backbone.model.forward(params: backbone.params.pointer, image: x.pointer, workspace: ws,
                                   blockOutput: ends.isEmpty ? nil : { plan, out, _ in if let m = ends[plan.globalIndex] { place(m, out) } })
            place(maps.last!, ws.tokens)
            done += n
            progress(done, count)
        }
        return DenseData(tokens: tokens, labels: labels, count: count, side: side, dim: D, size: S)
    }

    /// One stage's part of a dense token: its grid side, width, and first column.
    struct StageMap { let stage: Int, side: Int, dim: Int, offset: Int }

    /// The last `stages` stages of a network whose stage-0 grid is `grid` × `grid`.
    static func stageMaps(_ cfg: SwinConfig, grid: Int, stages: Int) -> [StageMap] {
        let last = cfg.numStages - 1
        var maps: [StageMap] = [], side = grid, offset = 0
        for s in 0...last {
            if s > 0 { side = (side + 1) / 2 }
            if s > last - stages { maps.append(StageMap(stage: s, side: side, dim: cfg.stageDim(s), offset: offset)); offset += cfg.stageDim(s) }
        }
        return maps
    }

    /// Each token's target: the most frequent class in its cell of the label map (ties: the lower class).
    public func cellTargets(classes K: Int) -> [Int] {
        var out = [Int](repeating: 0, count: count * side * side), hist = [Int](repeating: 0, count: K)
        for i in 0..<count {
            for t in 0..<(side * side) {
                let (r, c) = (t / side, t % side)
                for k in 0..<K { hist[k] = 0 }
                for y in (r * size / side)..<((r + 1) * size / side) {
                    for x in (c * size / side)..<((c + 1) * size / side) { hist[Int(labels[i * size * size + y * size + x])] += 1 }
                }
                out[i * side * side + t] = hist.indices.max { hist[$0] < hist[$1] || (hist[$0] == hist[$1] && $0 > $1) }!
            }
        }
        return out
    }
}

public enum DenseProbe {
    public struct Scores: Sendable {
        public let miou: Double, pixelAccuracy: Double
        /// IoU per class (nil: the class occurs neither in truth nor in prediction).
        public let iou: [Double?]
    }

    /// mIoU and pixel accuracy (both in %) of a K × K confusion matrix (row: truth, column: prediction).
    public static func scores(confusion m: [Int], classes K: Int) -> Scores {
        var iou: [Double?] = [], correct = 0, total = 0
        for k in 0..<K {
            let tp = m[k * K + k]
            let fn = (0..<K).reduce(0) { $0 + m[k * K + $1] } - tp, fp = (0..<K).reduce(0) { $0 + m[$1 * K + k] } - tp
            iou.append(tp + fp + fn == 0 ? nil : 100 * Double(tp) / Double(tp + fp + fn))
            correct += tp; total += (0..<K).reduce(0) { $0 + m[k * K + $1] }
        }
        let present = iou.compactMap { $0 }
        return Scores(miou: present.isEmpty ? 0 : present.reduce(0, +) / Double(present.count),
                      pixelAccuracy: 100 * Double(correct) / Double(max(total, 1)), iou: iou)
    }

    /// Per-pixel classes of one scene from its token logits (side² × K): bilinear upsampling to
    /// size × size with align_corners false (edge-clamped), then the argmax.
    public static func predict(logits: UnsafePointer<Float>, side: Int, classes K: Int, size: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size * size), v = [Float](repeating: 0, count: K)
        let scale = Double(side) / Double(size)
        func axis(_ p: Int) -> (Int, Int, Float) {
            let s = max((Double(p) + 0.5) * scale - 0.5, 0)
            let i0 = min(Int(s), side - 1)
            return (i0, min(i0 + 1, side - 1), Float(s - Double(i0)))
        }
        for y in 0..<size {
            let (y0, y1, wy) = axis(y)
            for x in 0..<size {
                let (x0, x1, wx) = axis(x)
                for k in 0..<K {
                    let a = logits[(y0 * side + x0) * K + k], b = logits[(y0 * side + x1) * K + k]
                    let c = logits[(y1 * side + x0) * K + k], d = logits[(y1 * side + x1) * K + k]
                    v[k] = (1 - wy) * ((1 - wx) * a + wx * b) + wy * ((1 - wx) * c + wx * d)
                }
                var arg = 0
                for k in 1..<K where v[k] > v[arg] { arg = k }
                out[y * size + x] = UInt8(arg)
            }
        }
        return out
    }

    public struct Result {
        public let lr: Double
        public let scores: Scores
        /// Predicted class maps of the first test scenes (for pictures).
        public let examples: [[UInt8]]
    }

    /// Trains one classifier per base lr in `lrs` on `train`'s tokens (targets: cellTargets) and
    /// scores each on `test`. `progress(epoch, loss of the first lr)` after each epoch.
    public static func run(train: DenseData, test: DenseData, classes K: Int, lrs: [Double], epochs: Int, batch: Int, seed: UInt64,
                           examples: Int = 0, progress: (Int, Double) -> Void = { _, _ in }) -> [Result] {
        let D = train.dim, targets = train.cellTargets(classes: K), N = targets.count, B = max(1, min(batch, N))
        var config = LinearProbeConfig()
        config.epochs = epochs; config.batch = B; config.seed = seed
        let classifiers = lrs.map { _ in LinearClassifier(dim: D, classes: K, batch: B, seed: seed, momentum: config.momentum) }
        let xb = FloatBuffer(count: B * D)
        for epoch in 0..<epochs {
            let order = LinearProbe.epochOrder(N, seed: seed, epoch: epoch)
            var loss = 0.0, start = 0
            while start < N {
                let n = min(B, N - start)
                for j in 0..<n { (xb.pointer + j * D).update(from: train.tokens.pointer + order[start + j] * D, count: D) }
                let y = (0..<n).map { targets[order[start + $0]] }
                for (c, base) in zip(classifiers, lrs) {
                    config.baseLR = base
                    let l = c.step(xb.pointer, labels: y, lr: LinearProbe.lr(config, batch: B, epoch: epoch))
                    if c === classifiers[0] { loss += l }
                }
                start += n
            }
            progress(epoch, loss / Double(N))
        }
        return zip(classifiers, lrs).map { c, base in score(c, test: test, classes: K, examples: examples, lr: base) }
    }

    static func score(_ c: LinearClassifier, test: DenseData, classes K: Int, examples: Int, lr: Double) -> Result {
        let L = test.side * test.side, S = test.size
        let logits = FloatBuffer(count: L * K)
        var confusion = [Int](repeating: 0, count: K * K), shown: [[UInt8]] = []
        for i in 0..<test.count {
            Linear.forward(y: logits.pointer, x: test.tokens.pointer + i * L * test.dim, weight: c.W.pointer, bias: c.b.pointer,
                           rows: L, inFeatures: test.dim, outFeatures: K)
            let pred = predict(logits: logits.pointer, side: test.side, classes: K, size: S)
            for p in 0..<(S * S) { confusion[Int(test.labels[i * S * S + p]) * K + Int(pred[p])] += 1 }
            if i < examples { shown.append(pred) }
        }
        return Result(lr: lr, scores: scores(confusion: confusion, classes: K), examples: shown)
    }
}
