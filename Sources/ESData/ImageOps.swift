// DINO's pixel operations on 8-bit RGB images, following Pillow's own algorithms so results
// match PIL/torchvision (measured per op in ImageOpsTests against PIL fixtures):
//   * cropResize: Image.crop + resize(BICUBIC): separable resampling, bicubic a = −0.5, support
//     scaled by the downscale factor (antialiasing), 22-bit fixed-point coefficients, each pass
//     rounded to 8 bits. Pass order as Pillow 13 (python-pillow/Pillow#9549): vertical first when
//     the height shrinks by more than twice the width's reduction (h − oh > 2(w − ow)), else
//     horizontal first (older Pillow always goes horizontal first; those cases differ by a few levels).
//   * blend (Image.blend: float, truncated toward zero, clamped) for brightness (with black),
//     contrast (with the rounded mean of L) and saturation (with L as RGB).
//   * grayscale: L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16, replicated.
//   * hue: PIL's RGB→HSV→RGB (uint8 HSV), hue shifted by trunc(h·255) mod 256 as torchvision.
//   * gaussianBlur: ImageFilter.GaussianBlur: 3 passes of the extended box blur per axis.
//   * solarize (threshold 128): v < 128 ? v : 255 − v.
import Foundation

public enum ImageOps {
    // MARK: resampling

    @inline(__always) static func bicubic(_ x0: Double) -> Double {
        let a = -0.5, x = abs(x0)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// Per output index: first input index, count, and fixed-point weights (PIL precompute_coeffs).
    static func coefficients(inSize: Int, in0: Double, in1: Double, outSize: Int) -> (bounds: [(Int, Int)], k: [Int32], ksize: Int) {
        let scale = (in1 - in0) / Double(outSize)
        let filterscale = max(scale, 1)
        let support = 2.0 * filterscale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds = [(Int, Int)](), k = [Int32](repeating: 0, count: outSize * ksize)
        var w = [Double](repeating: 0, count: ksize)
        for xx in 0..<outSize {
            let center = in0 + (Double(xx) + 0.5) * scale
            let ss = 1 / filterscale
            var xmin = Int(center - support + 0.5); if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5); if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var ww = 0.0
            for x in 0..<xmax { let v = bicubic((Double(x + xmin) - center + 0.5) * ss); w[x] = v; ww += v }
            for x in 0..<xmax {
                let v = ww != 0 ? w[x] / ww : w[x]
                k[xx * ksize + x] = v < 0 ? Int32(-0.5 + v * Double(1 << 22)) : Int32(0.5 + v * Double(1 << 22))
            }
            bounds.append((xmin, xmax))
        }
        return (bounds, k, ksize)
    }

    @inline(__always) static func clip8(_ v: Int) -> UInt8 { UInt8(max(0, min(255, v >> 22))) }

    /// img.crop(box).resize((outW, outH), BICUBIC).
    public static func cropResize(_ img: RGBImage, box: CropBox, outWidth: Int, outHeight: Int) -> RGBImage {
        let w = box.width, h = box.height
        // The cropped sub-image, as PIL's crop makes it.
        var src = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let s = ((box.top + y) * img.width + box.left) * 3
            for x in 0..<(w * 3) { src[y * w * 3 + x] = img.pixels[s + x] }
        }
        var cur = src, cw = w, ch = h
        let vert = coefficients(inSize: h, in0: 0, in1: Double(h), outSize: outHeight)
        if outWidth != w && outHeight < h && (h - outHeight) > 2 * (w - outWidth) {
            // Vertical pass on the full width, then horizontal (Pillow 13 order for tall reductions).
            var mid = [UInt8](repeating: 0, count: outHeight * w * 3)
            for yy in 0..<outHeight {
                let (ymin, n) = vert.bounds[yy]
                for x in 0..<w { for c in 0..<3 {
                    var ss = 1 << 21
                    for y in 0..<n { ss += Int(src[((ymin + y) * w + x) * 3 + c]) * Int(vert.k[yy * vert.ksize + y]) }
                    mid[(yy * w + x) * 3 + c] = clip8(ss)
                } }
            }
            let hc = coefficients(inSize: w, in0: 0, in1: Double(w), outSize: outWidth)
            var out = [UInt8](repeating: 0, count: outHeight * outWidth * 3)
            for y in 0..<outHeight { for xx in 0..<outWidth {
                let (xmin, n) = hc.bounds[xx]
                for c in 0..<3 {
                    var ss = 1 << 21
                    for x in 0..<n { ss += Int(mid[(y * w + xmin + x) * 3 + c]) * Int(hc.k[xx * hc.ksize + x]) }
                    out[(y * outWidth + xx) * 3 + c] = clip8(ss)
                }
            } }
            return RGBImage(width: outWidth, height: outHeight, pixels: out)
        }
        if outWidth != w {
            // Horizontal pass over only the rows the vertical pass will read.
            let first = outHeight != h ? vert.bounds[0].0 : 0
            let last = outHeight != h ? vert.bounds[outHeight - 1].0 + vert.bounds[outHeight - 1].1 : h
            let hc = coefficients(inSize: w, in0: 0, in1: Double(w), outSize: outWidth)
            var out = [UInt8](repeating: 0, count: (last - first) * outWidth * 3)
            for y in first..<last {
                for xx in 0..<outWidth {
                    let (xmin, n) = hc.bounds[xx]
                    for c in 0..<3 {
                        var ss = 1 << 21
                        for x in 0..<n { ss += Int(cur[(y * cw + xmin + x) * 3 + c]) * Int(hc.k[xx * hc.ksize + x]) }
                        out[((y - first) * outWidth + xx) * 3 + c] = clip8(ss)
                    }
                }
            }
            cur = out; cw = outWidth; ch = last - first
            if outHeight != h {
                let v = vert
                var out2 = [UInt8](repeating: 0, count: outHeight * cw * 3)
                for yy in 0..<outHeight {
                    let (ymin, n) = v.bounds[yy]
                    for x in 0..<cw { for c in 0..<3 {
                        var ss = 1 << 21
                        for y in 0..<n { ss += Int(cur[((ymin - first + y) * cw + x) * 3 + c]) * Int(v.k[yy * v.ksize + y]) }
                        out2[(yy * cw + x) * 3 + c] = clip8(ss)
                    } }
                }
                return RGBImage(width: cw, height: outHeight, pixels: out2)
            }
            return RGBImage(width: cw, height: ch, pixels: cur)
        }
        if outHeight != h {
            var out2 = [UInt8](repeating: 0, count: outHeight * cw * 3)
            for yy in 0..<outHeight {
                let (ymin, n) = vert.bounds[yy]
                for x in 0..<cw { for c in 0..<3 {
                    var ss = 1 << 21
                    for y in 0..<n { ss += Int(cur[((ymin + y) * cw + x) * 3 + c]) * Int(vert.k[yy * vert.ksize + y]) }
                    out2[(yy * cw + x) * 3 + c] = clip8(ss)
                } }
            }
            return RGBImage(width: cw, height: outHeight, pixels: out2)
        }
        return RGBImage(width: w, height: h, pixels: src)
    }

    // MARK: colour

    public static func flipHorizontal(_ img: inout RGBImage) {
        let w = img.width
        img.pixels.withUnsafeMutableBufferPointer { p in
            for y in 0..<img.height { for x in 0..<(w / 2) { for c in 0..<3 {
                p.swapAt((y * w + x) * 3 + c, (y * w + w - 1 - x) * 3 + c)
            } } }
        }
    }

    /// PIL Image.blend(a, b, alpha): a + alpha·(b − a) in float, clamped, truncated.
    @inline(__always) static func blend(_ a: UInt8, _ b: UInt8, _ alpha: Float) -> UInt8 {
        let t = Float(a) + alpha * (Float(b) - Float(a))
        return t <= 0 ? 0 : (t >= 255 ? 255 : UInt8(t))
    }

    @inline(__always) static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        let rr: Int = Int(r) * 19595, gg: Int = Int(g) * 38470, bb: Int = Int(b) * 7471
        return UInt8((rr + gg + bb + 0x8000) >> 16)
    }

    public static func adjustBrightness(_ img: inout RGBImage, _ f: Float) {
        for i in 0..<img.pixels.count { img.pixels[i] = blend(0, img.pixels[i], f) }
    }

    public static func adjustContrast(_ img: inout RGBImage, _ f: Float) {
        var sum = 0.0
        let n = img.width * img.height
        for p in 0..<n { sum += Double(luma(img.pixels[3 * p], img.pixels[3 * p + 1], img.pixels[3 * p + 2])) }
        let mean = UInt8(Int(sum / Double(n) + 0.5))
        for i in 0..<img.pixels.count { img.pixels[i] = blend(mean, img.pixels[i], f) }
    }

    public static func adjustSaturation(_ img: inout RGBImage, _ f: Float) {
        for p in 0..<(img.width * img.height) {
            let l = luma(img.pixels[3 * p], img.pixels[3 * p + 1], img.pixels[3 * p + 2])
            for c in 0..<3 { img.pixels[3 * p + c] = blend(l, img.pixels[3 * p + c], f) }
        }
    }

    public static func grayscale(_ img: inout RGBImage) {
        for p in 0..<(img.width * img.height) {
            let l = luma(img.pixels[3 * p], img.pixels[3 * p + 1], img.pixels[3 * p + 2])
            img.pixels[3 * p] = l; img.pixels[3 * p + 1] = l; img.pixels[3 * p + 2] = l
        }
    }

    @inline(__always) static func clip8i(_ v: Int) -> UInt8 { UInt8(max(0, min(255, v))) }

    /// torchvision adjust_hue on PIL: RGB → HSV (uint8), h += trunc(factor·255) mod 256, → RGB.
    public static func adjustHue(_ img: inout RGBImage, _ factor: Float) {
        let shift = UInt8(truncatingIfNeeded: Int(factor * 255))
        for p in 0..<(img.width * img.height) {
            let r = img.pixels[3 * p], g = img.pixels[3 * p + 1], b = img.pixels[3 * p + 2]
            let maxc = max(r, max(g, b)), minc = min(r, min(g, b))
            var uh: UInt8 = 0, us: UInt8 = 0
            let uv = maxc
            if minc != maxc {
                // Types mirror PIL's C: float variables, double literals (h / 6.0, h * 255.0).
                let cr = Float(maxc - minc)
                let s = cr / Float(maxc)
                let rc = Float(maxc - r) / cr, gc = Float(maxc - g) / cr, bc = Float(maxc - b) / cr
                var h: Float
                // 2.0/4.0 are double literals in C: those sums are evaluated in double, then stored.
                if r == maxc { h = bc - gc }
                else if g == maxc { h = Float(2.0 + Double(rc) - Double(bc)) }
                else { h = Float(4.0 + Double(gc) - Double(rc)) }
                h = Float(fmod(Double(h) / 6.0 + 1.0, 1.0))
                uh = clip8i(Int(Double(h) * 255.0)); us = clip8i(Int(Double(s) * 255.0))
            }
            let hh = uh &+ shift
            if us == 0 { img.pixels[3 * p] = uv; img.pixels[3 * p + 1] = uv; img.pixels[3 * p + 2] = uv; continue }
            let hd = Double(Float(hh)) * 6.0 / 255.0
            let i = Int(floor(hd))
            let f = Float(hd - Double(Float(i)))
            let fs = Float(Double(Float(us)) / 255.0)
            let v = Double(Float(uv))
            let pp = clip8i(Int((v * (1.0 - Double(fs))).rounded()))
            let q = clip8i(Int((v * (1.0 - Double(fs) * Double(f))).rounded()))
            let t = clip8i(Int((v * (1.0 - Double(fs) * (1.0 - Double(f)))).rounded()))
            let rgb: (UInt8, UInt8, UInt8)
            switch i % 6 {
            case 0: rgb = (uv, t, pp)
            case 1: rgb = (q, uv, pp)
            case 2: rgb = (pp, uv, t)
            case 3: rgb = (pp, q, uv)
            case 4: rgb = (t, pp, uv)
            default: rgb = (uv, pp, q)
            }
            img.pixels[3 * p] = rgb.0; img.pixels[3 * p + 1] = rgb.1; img.pixels[3 * p + 2] = rgb.2
        }
    }

    public static func solarize(_ img: inout RGBImage, threshold: UInt8 = 128) {
        for i in 0..<img.pixels.count where img.pixels[i] >= threshold { img.pixels[i] = 255 - img.pixels[i] }
    }

    // MARK: blur

    /// PIL _gaussian_blur_radius: box radius (with fractional edge) for `passes` box blurs.
    static func boxRadius(_ radius: Float, passes: Int) -> Float {
        let sigma2 = radius * radius / Float(passes)
        let L = Float((12.0 * Double(sigma2) + 1.0).squareRoot())
        let l = Float(floor((Double(L) - 1.0) / 2.0))
        var a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2)
        a /= 6 * (sigma2 - (l + 1) * (l + 1))
        return l + a
    }

    /// One box-blur pass along x for every row of (rows, len) channel-interleaved pixels.
    static func boxBlurRows(_ src: [UInt8], rows: Int, len: Int, radius floatRadius: Float) -> [UInt8] {
        let radius = Int(floatRadius)
        let ww = Int(UInt32(Float(1 << 24) / (floatRadius * 2 + 1)))
        let fw = ((1 << 24) - (radius * 2 + 1) * ww) / 2
        let lastx = len - 1, edgeA = min(radius + 1, len), edgeB = max(len - radius - 1, 0)
        var out = [UInt8](repeating: 0, count: src.count)
        for y in 0..<rows { for c in 0..<3 {
            @inline(__always) func px(_ x: Int) -> Int { Int(src[(y * len + x) * 3 + c]) }
            var acc = px(0) * (radius + 1)
            if edgeA > 1 { for x in 0..<(edgeA - 1) { acc += px(x) } }
            acc += px(lastx) * (radius - edgeA + 1)
            @inline(__always) func emit(_ x: Int, _ sub: Int, _ add: Int, _ left: Int, _ right: Int) {
                acc += px(add) - px(sub)
                let bulk = acc * ww + (px(left) + px(right)) * fw
                out[(y * len + x) * 3 + c] = UInt8(truncatingIfNeeded: (bulk + (1 << 23)) >> 24)
            }
            if edgeA <= edgeB {
                for x in 0..<edgeA { emit(x, 0, x + radius, 0, x + radius + 1) }
                for x in edgeA..<max(edgeA, edgeB) { emit(x, x - radius - 1, x + radius, x - radius - 1, x + radius + 1) }
                for x in edgeB...lastx { emit(x, x - radius - 1, lastx, x - radius - 1, lastx) }
            } else {
                for x in 0..<edgeB { emit(x, 0, x + radius, 0, x + radius + 1) }
                for x in edgeB..<edgeA { emit(x, 0, lastx, 0, lastx) }
                if edgeA <= lastx { for x in edgeA...lastx { emit(x, x - radius - 1, lastx, x - radius - 1, lastx) } }
            }
        } }
        return out
    }

    static func transpose(_ src: [UInt8], width w: Int, height h: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: src.count)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 { out[(x * h + y) * 3 + c] = src[(y * w + x) * 3 + c] } } }
        return out
    }

    /// ImageFilter.GaussianBlur(radius): 3 extended-box-blur passes along x, then along y.
    public static func gaussianBlur(_ img: inout RGBImage, radius: Float) {
        guard radius > 0 else { return }
        let r = boxRadius(radius, passes: 3)
        var cur = img.pixels
        for _ in 0..<3 { cur = boxBlurRows(cur, rows: img.height, len: img.width, radius: r) }
        var t = transpose(cur, width: img.width, height: img.height)
        for _ in 0..<3 { t = boxBlurRows(t, rows: img.width, len: img.height, radius: r) }
        img.pixels = transpose(t, width: img.height, height: img.width)
    }
}
