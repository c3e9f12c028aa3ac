// Attention pictures (paper Fig. 6, docs/algorithm.md §7.3): the post-softmax window attention of the last
// block for one query token, per head, mapped back onto the token grid (window partition, shift
// and padding undone through the window geometry's token map); heads sorted by the entropy of
// that row (most focused first); the smallest set of tokens holding 60 % of the mass is kept
// bright and the rest dimmed; maps upsampled with nearest neighbour and tiled beside the input.
import ESData
import ESKernels
import ESModel
import Foundation

public struct AttentionView {
    public let gridHeight: Int, gridWidth: Int
    /// Query token (row-major on the final grid).
    public let query: Int
    /// Per head (in the model's order): the attention of the query to every token of the grid (0 outside its window).
    public let maps: [[Float]]
    public let entropy: [Double]
    /// Head indices sorted by entropy, ascending.
    public var order: [Int] { entropy.indices.sorted { entropy[$0] < entropy[$1] || (entropy[$0] == entropy[$1] && $0 < $1) } }

    /// Runs `backbone` on `image` (evaluation transform) and reads the last block's attention.
    /// `query` defaults to the centre token of the final grid.
    public static func lastBlock(_ backbone: EvalBackbone, image: RGBImage, mean: [Float], std: [Float],
                                 query: (row: Int, col: Int)? = nil) -> (AttentionView, input: RGBImage) {
        let G = backbone.inputSize
        let ws = SwinWorkspace(model: backbone.model, batch: 1, height: G, width: G, training: false)
        let x = FloatBuffer(count: 3 * G * G)
        EvalTransform.apply(image, size: G, mean: mean, std: std, into: x.pointer)
        backbone.model.forward(params: backbone.params.pointer, image: x.pointer, workspace: ws)
        // The inference workspace shares one attention slot between blocks: after the forward it
        // holds the last block's (nW, nH, N, N).
        let a = ws.blocks.last!, g = a.geometry, heads = backbone.model.blocks.last!.plan.heads
        let H = a.height, W = a.width, N = g.tokensPerWindow
        let q = query.map { min(max($0.row, 0), H - 1) * W + min(max($0.col, 0), W - 1) } ?? (H / 2) * W + W / 2
        // The window slot holding the query.
        let slot = g.tokenMap.firstIndex(of: Int32(q))!
        let w = slot / N, j = slot % N
        var maps: [[Float]] = [], entropy: [Double] = []
        for h in 0..<heads {
            var m = [Float](repeating: 0, count: H * W)
            var e = 0.0
            let row = a.probs + ((w * heads + h) * N + j) * N
            for k in 0..<N {
                let p = row[k]
                if p > 0 { e -= Double(p) * log(Double(p)) }
                let t = g.tokenMap[w * N + k]
                if t >= 0 { m[Int(t)] += p }
            }
            maps.append(m); entropy.append(e)
        }
        // The picture of the input the model saw: the eval crop, denormalised.
        var px = [UInt8](repeating: 0, count: G * G * 3)
        for c in 0..<3 { for i in 0..<(G * G) {
            px[i * 3 + c] = UInt8(max(0, min(255, ((x[c * G * G + i] * std[c] + mean[c]) * 255).rounded())))
        } }
        return (AttentionView(gridHeight: H, gridWidth: W, query: q, maps: maps, entropy: entropy), RGBImage(width: G, height: G, pixels: px))
    }

    /// Tokens forming the smallest set with at least `fraction` of the map's mass.
    public static func massMask(_ m: [Float], fraction: Float = 0.6) -> [Bool] {
        let total = m.reduce(0, +)
        var keep = [Bool](repeating: false, count: m.count), acc: Float = 0
        for i in m.indices.sorted(by: { m[$0] > m[$1] }) {
            if acc >= fraction * total { break }
            keep[i] = true; acc += m[i]
        }
        return keep
    }

    /// The tiled picture: the input with the query cell outlined, then one tile per head in
    /// entropy order. `tile` pixels per side; `columns` tiles per row.
    public func render(input: RGBImage, tile T: Int = 128, columns: Int = 7, fraction: Float = 0.6) -> RGBImage {
        let n = maps.count + 1, cols = min(columns, n), rows = (n + cols - 1) / cols, gap = 4
        var canvas = Canvas(width: cols * T + (cols + 1) * gap, height: rows * T + (rows + 1) * gap)
        func origin(_ i: Int) -> (Int, Int) { (gap + (i % cols) * (T + gap), gap + (i / cols) * (T + gap)) }
        // Input tile, nearest-neighbour, with the query cell outlined in red.
        let (ix, iy) = origin(0)
        for y in 0..<T { for x in 0..<T {
            let sx = x * input.width / T, sy = y * input.height / T, o = (sy * input.width + sx) * 3
            canvas.put(ix + x, iy + y, (input.pixels[o], input.pixels[o + 1], input.pixels[o + 2]))
        } }
        let qr = query / gridWidth, qc = query % gridWidth
        let x0 = qc * T / gridWidth, x1 = (qc + 1) * T / gridWidth - 1, y0 = qr * T / gridHeight, y1 = (qr + 1) * T / gridHeight - 1
        canvas.frame(x: ix + x0, y: iy + y0, width: x1 - x0, height: y1 - y0, (255, 0, 0))
        // Head tiles: a "hot" colour map of the map over its maximum; tokens outside the mass set dimmed.
        for (t, h) in order.enumerated() {
            let m = maps[h], mx = max(m.max() ?? 0, 1e-12), keep = AttentionView.massMask(m, fraction: fraction)
            let (ox, oy) = origin(t + 1)
            for y in 0..<T { for x in 0..<T {
                let k = (y * gridHeight / T) * gridWidth + x * gridWidth / T
                let v = m[k] / mx, dim: Float = keep[k] ? 1 : 0.35
                func ch(_ s: Float) -> UInt8 { UInt8(max(0, min(255, (s * dim * 255).rounded()))) }
                canvas.put(ox + x, oy + y, (ch(min(1, 3 * v)), ch(min(1, max(0, 3 * v - 1))), ch(min(1, max(0, 3 * v - 2)))))
            } }
        }
        return canvas.image
    }
}
