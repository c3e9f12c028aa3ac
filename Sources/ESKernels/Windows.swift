// Shifted-window geometry (Swin §1.3-1.6 of the spec), computed once per (H, W, ws, shift):
//   * the token map: for each window slot (window-major, row-major inside a window) the source
//     token h·W + w of the unpadded grid, or −1 for a padding token. Partition = gather by
//     the map (cyclic roll by −s on the padded grid, torch.roll semantics; padding slots zero,
//     or a given row); reverse = scatter by the map (roll back by +s, crop). With zero padding
//     the two are adjoint, so each is the other's backward; with a fill row, the padding
//     slots' gradient is what `addPaddingRows` sums.
//   * the shift mask (nW, N, N): 0 where two tokens share a region label, −100 otherwise.
//   * the relative position index (N, N) into the ((2ws−1)², nH) bias table.
// Padding tokens are not masked, exactly as upstream (they act as qkv-bias-only keys/values).

public final class WindowGeometry: @unchecked Sendable {
    public let height: Int, width: Int, windowSize: Int, shift: Int
    public let paddedHeight: Int, paddedWidth: Int
    public let windowsPerImage: Int
    public let tokensPerWindow: Int
    /// (nW·N) source token index or −1.
    public let tokenMap: [Int32]
    /// Whether any window slot is a padding token (the grid is not a multiple of the window).
    public var hasPadding: Bool { paddedHeight * paddedWidth > height * width }
    /// (nW, N, N) additive mask, or nil when shift = 0.
    public let mask: FloatBuffer?

    public init(height H: Int, width W: Int, windowSize ws: Int, shift s: Int) {
        height = H; width = W; windowSize = ws; shift = s
        let Hp = (H + ws - 1) / ws * ws, Wp = (W + ws - 1) / ws * ws
        paddedHeight = Hp; paddedWidth = Wp
        let nWh = Hp / ws, nWw = Wp / ws, N = ws * ws
        windowsPerImage = nWh * nWw; tokensPerWindow = N
        var map = [Int32](repeating: -1, count: nWh * nWw * N)
        for wh in 0..<nWh { for ww in 0..<nWw { for i in 0..<ws { for j in 0..<ws {
            let hp = wh * ws + i, wp = ww * ws + j        // position in the rolled grid
            let h = (hp + s) % Hp, w = (wp + s) % Wp      // source position in the padded grid
            let slot = (wh * nWw + ww) * N + i * ws + j
            if h < H && w < W { map[slot] = Int32(h * W + w) }
        } } } }
        tokenMap = map
        if s > 0 {
            // Region labels on the padded grid, in rolled coordinates (as upstream img_mask).
            func band(_ p: Int, _ size: Int) -> Int { p < size - ws ? 0 : (p < size - s ? 1 : 2) }
            let m = FloatBuffer(count: nWh * nWw * N * N)
            for wh in 0..<nWh { for ww in 0..<nWw {
                let w = wh * nWw + ww
                var labels = [Int](repeating: 0, count: N)
                for i in 0..<ws { for j in 0..<ws {
                    labels[i * ws + j] = 3 * band(wh * ws + i, Hp) + band(ww * ws + j, Wp)
                } }
                for a in 0..<N { for b in 0..<N where labels[a] != labels[b] { m[(w * N + a) * N + b] = -100 } }
            } }
            mask = m
        } else {
            mask = nil
        }
    }

    /// Number of windows with any masked pair (a check value of the spec).
    public var maskedWindowCount: Int {
        guard let mask else { return 0 }
        let NN = tokensPerWindow * tokensPerWindow
        return (0..<windowsPerImage).filter { w in (0..<NN).contains { mask[w * NN + $0] != 0 } }.count
    }

    /// win(B·nW, N, C) = partition(roll(pad(x(B, H·W, C)))); padding slots get `fill` (C values),
    /// or zeros when it is nil.
    public func partition(windows: UnsafeMutablePointer<Float>, tokens x: UnsafePointer<Float>,
                          batch B: Int, channels C: Int, fill: UnsafePointer<Float>? = nil) {
        let t0 = Profiler.start(); defer { Profiler.stop(.layout, t0) }
        let slots = tokenMap.count, L = height * width
        tokenMap.withUnsafeBufferPointer { map in
            let mp = map.baseAddress!
            Compute.pool.parallelFor(B * slots, minPerThread: 256) { r, _ in
                for k in r {
                    let b = k / slots, src = mp[k - b * slots]
                    let dst = windows + k * C
                    if src >= 0 { dst.update(from: x + (b * L + Int(src)) * C, count: C) }
                    else if let fill { dst.update(from: fill, count: C) }
                    else { dst.update(repeating: 0, count: C) }
                }
            }
        }
    }

    /// x(B, H·W, C) (= or +=) crop(roll⁻¹(merge(win))). Also the backward of `partition`.
    public func reverse(tokens x: UnsafeMutablePointer<Float>, windows: UnsafePointer<Float>,
                        batch B: Int, channels C: Int, accumulate: Bool) {
        let t0 = Profiler.start(); defer { Profiler.stop(.layout, t0) }
        let slots = tokenMap.count, L = height * width
        tokenMap.withUnsafeBufferPointer { map in
            let mp = map.baseAddress!
            Compute.pool.parallelFor(B * slots, minPerThread: 256) { r, _ in
                for k in r {
                    let b = k / slots, src = mp[k - b * slots]
                    guard src >= 0 else { continue }
                    let dst = x + (b * L + Int(src)) * C
                    if accumulate { addInto(windows + k * C, dst, C) } else { dst.update(from: windows + k * C, count: C) }
                }
            }
        }
    }
}

extension WindowGeometry {
    /// sum[c] += Σ over the padding slots of win(B·nW, N, C)[slot, c]: the part of a bias
    /// gradient that `reverse` drops.
    public func addPaddingRows(into sum: UnsafeMutablePointer<Float>, windows: UnsafePointer<Float>,
                               batch B: Int, channels C: Int) {
        let t0 = Profiler.start(); defer { Profiler.stop(.layout, t0) }
        let slots = tokenMap.count
        tokenMap.withUnsafeBufferPointer { map in
            for b in 0..<B { for k in 0..<slots where map[k] < 0 { addInto(windows + (b * slots + k) * C, sum, C) } }
        }
    }
}

public enum RelativePosition {
    /// index[i, j] = (dh + ws − 1)(2ws − 1) + (dw + ws − 1), i, j row-major over the window.
    public static func index(windowSize ws: Int) -> [Int32] {
        let N = ws * ws
        var idx = [Int32](repeating: 0, count: N * N)
        for i in 0..<N { for j in 0..<N {
            let dh = i / ws - j / ws, dw = i % ws - j % ws
            idx[i * N + j] = Int32((dh + ws - 1) * (2 * ws - 1) + (dw + ws - 1))
        } }
        return idx
    }

    /// bias(nH, N, N) = table[index[i, j], h]; table is ((2ws−1)², nH).
    public static func gather(bias: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>,
                              index: [Int32], heads nH: Int) {
        let NN = index.count
        for h in 0..<nH { for k in 0..<NN { bias[h * NN + k] = table[Int(index[k]) * nH + h] } }
    }

    /// dTable[index[i, j], h] += dBias(nH, N, N)[h, i, j].
    public static func scatter(dTable: UnsafeMutablePointer<Float>, dBias: UnsafePointer<Float>,
                               index: [Int32], heads nH: Int) {
        let NN = index.count
        for h in 0..<nH { for k in 0..<NN { dTable[Int(index[k]) * nH + h] += dBias[h * NN + k] } }
    }
}
