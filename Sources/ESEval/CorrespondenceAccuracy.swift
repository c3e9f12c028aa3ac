// Correspondence accuracy (`esvit eval-correspondence`), upstream's --measure_correspondence
// (microsoft/esvit analyze_models.py; docs/algorithm.md §7.3): view 1 is a test image under the
// evaluation transform; view 2 is view 1 flipped horizontally (p = 1), colour-jittered
// (brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1; p = 0.8) and turned gray (p = 1). Every
// final token of view 1 is matched to its most cosine-similar token of view 2; of the 10 most
// similar matches, accuracy is the share that land exactly on the mirrored cell, and the distance
// error the mean pixel distance between the matched cell's centre and the mirrored cell's centre
// (cells of input / grid side pixels). Both are averaged over the images (unreadable ones are
// left out and counted).
import ESData
import ESDistributed
import ESKernels
import ESModel
import Foundation

public enum CorrespondenceAccuracy {
    /// Upstream's matches kept per image, and the defaults of the view seed and the pairs per pass.
    public static let pairs = 10, defaultSeed: UInt64 = 0, defaultBatch = 64

    public struct Score: Equatable, Sendable {
        public var accuracy: Double, distance: Double
        public init(accuracy: Double, distance: Double) { self.accuracy = accuracy; self.distance = distance }
    }

    /// One image's score from its sorted matches on a `side` × `side` grid of `cell`-pixel cells.
    public static func score(_ matches: [Correspondence.Match], side: Int, cell: Double, pairs: Int = CorrespondenceAccuracy.pairs) -> Score {
        let top = matches.prefix(pairs)
        var correct = 0, distance = 0.0
        for m in top {
            let (r, c) = (m.from / side, m.from % side), (rt, ct) = (m.to / side, m.to % side)
            let dx = Double(ct - (side - 1 - c)), dy = Double(rt - r)
            let d = cell * (dx * dx + dy * dy).squareRoot()
            if d == 0 { correct += 1 }
            distance += d
        }
        let n = Double(max(top.count, 1))
        return Score(accuracy: Double(correct) / n, distance: distance / n)
    }

    /// View 2 of `view1` (8-bit, after the evaluation transform), its draws from `rng`.
    public static func mirrorView(_ view1: RGBImage, rng: inout KeyedRandom) -> RGBImage {
        var v = view1
        ImageOps.flipHorizontal(&v)
        if rng.uniform() < 0.8 { MultiCrop.colorJitter(&v, rng: &rng) }
        ImageOps.grayscale(&v)
        return v
    }

    public struct Result: Sendable {
        public let score: Score
        public let images: Int, side: Int, cell: Double
        /// Images that could not be read (left out of the mean).
        public let unreadable: Int
    }

    /// The mean score over the first `count` images of `source`, `batch` pairs per forward pass;
    /// view 2 of image i draws from KeyedRandom(seed, tag, i); unreadable images are left out and
    /// counted. `progress(done, total)` after each batch.
    public static func evaluate(_ backbone: EvalBackbone, source: ImageSource, count: Int, mean: [Float], std: [Float], seed: UInt64,
                                batch: Int, progress: (Int, Int) -> Void = { _, _ in }) -> Result {
        let G = backbone.inputSize, per = 3 * G * G, B = max(1, min(batch, count))
        let ws = SwinWorkspace(model: backbone.model, batch: 2 * B, height: G, width: G, training: false)
        let L = ws.finalTokens, C = ws.finalDim, side = Int(Double(L).squareRoot().rounded())
        let cell = Double(G) / Double(side)
        let x = FloatBuffer(count: 2 * B * per)
        var sum = Score(accuracy: 0, distance: 0), done = 0, failed = Set<Int>(), unreadable = 0
        while done < count {
            let n = min(B, count - done)
            x.zero()
            for k in 0..<n {
                guard let image = try? source.load(done + k, minShortSide: 0) else { failed.insert(k); continue }
                let v1 = EvalTransform.crop(image, size: G)
                var rng = KeyedRandom(seed, 0xC0_44E6, UInt64(done + k))
                MultiCrop.normalize(v1, mean: mean, std: std, into: x.pointer + 2 * k * per)
                MultiCrop.normalize(mirrorView(v1, rng: &rng), mean: mean, std: std, into: x.pointer + (2 * k + 1) * per)
            }
            backbone.model.forward(params: backbone.params.pointer, image: x.pointer, workspace: ws)
            for k in 0..<n where !failed.contains(k) {
                let s = score(Correspondence.match(ws.tokens + 2 * k * L * C, ws.tokens + (2 * k + 1) * L * C, tokens: L, dim: C), side: side, cell: cell)
                sum.accuracy += s.accuracy; sum.distance += s.distance
            }
            done += n
            unreadable += failed.count; failed.removeAll()
            progress(done, count)
        }
        let m = Double(max(count - unreadable, 1))
        return Result(score: Score(accuracy: sum.accuracy / m, distance: sum.distance / m), images: count - unreadable, side: side, cell: cell,
                      unreadable: unreadable)
    }
}
