// Region correspondence pictures (paper Fig. 7, docs/algorithm.md §7.3 --vis_correspondence): two random
// resized crops of one image — scale (1, 1) and scale (0.4, 0.6), as upstream — through the
// backbone; every final token of view 1 is matched to its most similar token of view 2 (cosine,
// the argmax matching of the region loss); the 10 most similar pairs are drawn as numbered lines
// between the two views placed side by side. `match` (the matching alone) also serves the
// correspondence accuracy (CorrespondenceAccuracy).
import ESData
import ESKernels
import ESModel
import Foundation

public struct Correspondence {
    public struct Match { public let from: Int, to: Int; public let similarity: Float }
    public let gridHeight: Int, gridWidth: Int
    /// All matches of view-1 tokens, sorted by similarity (descending).
    public let matches: [Match]
    public let views: (RGBImage, RGBImage)

    public static func compute(_ backbone: EvalBackbone, image: RGBImage, mean: [Float], std: [Float], seed: UInt64) -> Correspondence {
        let G = backbone.inputSize
        var rng = KeyedRandom(seed, 0xC0_44E5)
        let b1 = RandomResizedCrop.box(height: image.height, width: image.width, scale: (1, 1), rng: &rng)
        let b2 = RandomResizedCrop.box(height: image.height, width: image.width, scale: (0.4, 0.6), rng: &rng)
        let v1 = ImageOps.cropResize(image, box: b1, outWidth: G, outHeight: G), v2 = ImageOps.cropResize(image, box: b2, outWidth: G, outHeight: G)
        let (maps, L, C) = tokenMaps(backbone, v1, v2, mean: mean, std: std)
        let side = Int(Double(L).squareRoot().rounded())
        let matches = maps.withUnsafeBufferPointer { match($0.baseAddress!, $0.baseAddress! + L * C, tokens: L, dim: C) }
        return Correspondence(gridHeight: side, gridWidth: L / side, matches: matches, views: (v1, v2))
    }

    /// The backbone's final token maps of two views of the input size: view 1's L × C tokens,
    /// then view 2's.
    public static func tokenMaps(_ backbone: EvalBackbone, _ v1: RGBImage, _ v2: RGBImage, mean: [Float], std: [Float]) -> (maps: [Float], tokens: Int, dim: Int) {
        let G = backbone.inputSize
        let ws = SwinWorkspace(model: backbone.model, batch: 2, height: G, width: G, training: false)
        let x = FloatBuffer(count: 2 * 3 * G * G)
        MultiCrop.normalize(v1, mean: mean, std: std, into: x.pointer)
        MultiCrop.normalize(v2, mean: mean, std: std, into: x.pointer + 3 * G * G)
        backbone.model.forward(params: backbone.params.pointer, image: x.pointer, workspace: ws)
        let L = ws.finalTokens, C = ws.finalDim
        return (Array(UnsafeBufferPointer(start: ws.tokens, count: 2 * L * C)), L, C)
    }

    /// Every token of map `a` (L × C) matched to its most cosine-similar token of map `b` (the
    /// first on ties), sorted by similarity, descending (ties: lower `from` first).
    public static func match(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, tokens L: Int, dim C: Int) -> [Match] {
        let t = FloatBuffer(count: 2 * L * C)
        var norms = [Float](repeating: 0, count: L)
        L2Normalize.forward(y: t.pointer, norms: &norms, x: a, rows: L, dim: C)
        L2Normalize.forward(y: t.pointer + L * C, norms: &norms, x: b, rows: L, dim: C)
        var matches: [Match] = []
        for i in 0..<L {
            var best = -Float.infinity, arg = 0
            for j in 0..<L {
                let s = dot(t.pointer + i * C, t.pointer + (L + j) * C, C)
                if s > best { best = s; arg = j }
            }
            matches.append(Match(from: i, to: arg, similarity: best))
        }
        matches.sort { $0.similarity > $1.similarity || ($0.similarity == $1.similarity && $0.from < $1.from) }
        return matches
    }

    /// The two views side by side (each `tile` px), the top `count` pairs joined by numbered lines.
    public func render(tile T: Int = 256, count: Int = 10) -> RGBImage {
        let gap = 24
        var canvas = Canvas(width: 2 * T + 3 * gap, height: T + 2 * gap)
        for (k, v) in [views.0, views.1].enumerated() {
            let ox = gap + k * (T + gap)
            for y in 0..<T { for x in 0..<T {
                let o = ((y * v.height / T) * v.width + x * v.width / T) * 3
                canvas.put(ox + x, gap + y, (v.pixels[o], v.pixels[o + 1], v.pixels[o + 2]))
            } }
        }
        func centre(_ token: Int, view k: Int) -> (Int, Int) {
            let r = token / gridWidth, c = token % gridWidth
            return (gap + k * (T + gap) + (2 * c + 1) * T / (2 * gridWidth), gap + (2 * r + 1) * T / (2 * gridHeight))
        }
        let palette: [Canvas.Color] = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
                                       (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]
        for (n, m) in matches.prefix(count).enumerated() {
            let col = palette[n % palette.count]
            let (x0, y0) = centre(m.from, view: 0), (x1, y1) = centre(m.to, view: 1)
            canvas.line(x0, y0, x1, y1, col)
            canvas.disc(x0, y0, radius: 3, col); canvas.disc(x1, y1, radius: 3, col)
            canvas.text(String(n + 1), x: x0 + 5, y: y0 - 12, box: (255, 255, 255))
        }
        return canvas.image
    }
}
