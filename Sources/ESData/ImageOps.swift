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

    /// Pillow's resampling filters used here: BICUBIC (a = −0.5, support 2; DINO's crops and the
    /// evaluation resize) and BILINEAR (triangle, support 1; torchvision's RandomResizedCrop
    /// default, used by the linear probe's training views).
    public enum Filter: Sendable { case bicubic, bilinear }

    @inline(__always) static func bicubic(_ x0: Double) -> Double {
        let a = -0.5, x = abs(x0)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    @inline(__always) static func bilinear(_ x0: Double) -> Double {
        let x = abs(x0)
        return x < 1 ? 1 - x : 0
    }

    /// Per output index: first input index, count, and fixed-point weights (PIL precompute_coeffs).
    static func coefficients(inSize: Int, in0: Double, in1: Double, outSize: Int, filter: Filter = .bicubic) -> (bounds: [(Int, Int)], k: [Int32], ksize: Int) {
        let scale = (in1 - in0) / Double(outSize)
        let filterscale = max(scale, 1)
        let support = (filter == .bicubic ? 2.0 : 1.0) * filterscale
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
            for x in 0..<xmax {
                let t = (Double(x + xmin) - center + 0.5) * ss
                let v = filter == .bicubic ? bicubic(t) : bilinear(t)
                w[x] = v; ww += v
            }
            for x in 0..<xmax {
                let v = ww != 0 ? w[x] / ww : w[x]
                k[xx * ksize + x] = v < 0 ? Int32(-0.5 + v * Double(1 << 22)) : Int32(0.5 + v * Double(1 << 22))
            }
            bounds.append((xmin, xmax))
        }
        return (bounds, k, ksize)
    }

    @inline(__always) static func clip8(_ v: Int32) -> UInt8 { UInt8(truncatingIfNeeded: max(0, min(255, v >> 22))) }

    /// One horizontal pass: rows [first, last) of src (width sw, row stride in pixels `stride`,
    /// starting at column `x0`) → dst (outW wide, rows shifted by `first`).
    static func horizontalPass(_ src: UnsafePointer<UInt8>, stride: Int, x0: Int, first: Int, last: Int,
                               _ c: (bounds: [(Int, Int)], k: [Int32], ksize: Int), outWidth: Int, into dst: UnsafeMutablePointer<UInt8>) {
        c.k.withUnsafeBufferPointer { kb in
            let k = kb.baseAddress!
            for y in first..<last {
                let row = src + (y * stride + x0) * 3, out = dst + (y - first) * outWidth * 3
                for xx in 0..<outWidth {
                    let (xmin, n) = c.bounds[xx]
                    let kk = k + xx * c.ksize, p = row + xmin * 3
                    var s0: Int32 = 1 << 21, s1: Int32 = 1 << 21, s2: Int32 = 1 << 21
                    for x in 0..<n {
                        let w = kk[x]
                        s0 &+= Int32(p[3 * x]) &* w; s1 &+= Int32(p[3 * x + 1]) &* w; s2 &+= Int32(p[3 * x + 2]) &* w
                    }
                    out[3 * xx] = clip8(s0); out[3 * xx + 1] = clip8(s1); out[3 * xx + 2] = clip8(s2)
                }
            }
        }
    }

    /// One vertical pass over `width` columns: src rows (stride in pixels, first column x0) → dst.
    static func verticalPass(_ src: UnsafePointer<UInt8>, stride: Int, x0: Int, width: Int, rowOffset: Int,
                             _ c: (bounds: [(Int, Int)], k: [Int32], ksize: Int), outHeight: Int, into dst: UnsafeMutablePointer<UInt8>) {
        c.k.withUnsafeBufferPointer { kb in
            let k = kb.baseAddress!
            let n3 = width * 3
            for yy in 0..<outHeight {
                let (ymin, n) = c.bounds[yy]
                let kk = k + yy * c.ksize, out = dst + yy * n3
                for i in 0..<n3 {
                    var s: Int32 = 1 << 21
                    var p = src + ((ymin - rowOffset) * stride + x0) * 3 + i
                    for y in 0..<n { s &+= Int32(p.pointee) &* kk[y]; p += stride * 3 }
                    out[i] = clip8(s)
                }
            }
        }
    }

    /// img.crop(box).resize((outW, outH), BICUBIC).
    public static func cropResize(_ img: RGBImage, box: CropBox, outWidth: Int, outHeight: Int, filter: Filter = .bicubic) -> RGBImage {
        let w = box.width, h = box.height, W = img.width
        let needH = outWidth != w, needV = outHeight != h
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
        img.pixels.withUnsafeBufferPointer { pb in
            let base = pb.baseAddress! + (box.top * W) * 3     // row `y` of the crop = row box.top + y of the image
            out.withUnsafeMutableBufferPointer { ob in
                let dst = ob.baseAddress!
                let vert = coefficients(inSize: h, in0: 0, in1: Double(h), outSize: outHeight, filter: filter)
                if needH && needV && outHeight < h && (h - outHeight) > 2 * (w - outWidth) {
                    // Pillow 13 order: vertical pass on the full crop width, then horizontal.
                    var mid = [UInt8](repeating: 0, count: outHeight * w * 3)
                    mid.withUnsafeMutableBufferPointer { mb in
                        verticalPass(base, stride: W, x0: box.left, width: w, rowOffset: 0, vert, outHeight: outHeight, into: mb.baseAddress!)
                        let hc = coefficients(inSize: w, in0: 0, in1: Double(w), outSize: outWidth, filter: filter)
                        horizontalPass(UnsafePointer(mb.baseAddress!), stride: w, x0: 0, first: 0, last: outHeight, hc, outWidth: outWidth, into: dst)
                    }
                } else if needH {
                    let first = needV ? vert.bounds[0].0 : 0
                    let last = needV ? vert.bounds[outHeight - 1].0 + vert.bounds[outHeight - 1].1 : h
                    let hc = coefficients(inSize: w, in0: 0, in1: Double(w), outSize: outWidth, filter: filter)
                    if needV {
                        var mid = [UInt8](repeating: 0, count: (last - first) * outWidth * 3)
                        mid.withUnsafeMutableBufferPointer { mb in
                            horizontalPass(base, stride: W, x0: box.left, first: first, last: last, hc, outWidth: outWidth, into: mb.baseAddress!)
                            verticalPass(UnsafePointer(mb.baseAddress!), stride: outWidth, x0: 0, width: outWidth, rowOffset: first,
                                         vert, outHeight: outHeight, into: dst)
                        }
                    } else {
                        horizontalPass(base, stride: W, x0: box.left, first: 0, last: h, hc, outWidth: outWidth, into: dst)
                    }
                } else if needV {
                    verticalPass(base, stride: W, x0: box.left, width: w, rowOffset: 0, vert, outHeight: outHeight, into: dst)
                } else {
                    for y in 0..<h { (dst + y * w * 3).update(from: base + (y * W + box.left) * 3, count: w * 3) }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }

    // MARK: colour

    public static func flipHorizontal(_ img: inout RGBImage) {
        let w = img.width, h = img.height
        img.pixels.withUnsafeMutableBufferPointer { pb in
            let p = pb.baseAddress!
            for y in 0..<h { for x in 0..<(w / 2) {
                let a = p + (y * w + x) * 3, b = p + (y * w + w - 1 - x) * 3
                for c in 0..<3 { let t = a[c]; a[c] = b[c]; b[c] = t }
            } }
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

    /// blend(a, v, f) for all 256 v (a constant): the same formula, looked up.
    static func blendTable(_ a: UInt8, _ f: Float) -> [UInt8] { (0..<256).map { blend(a, UInt8($0), f) } }

    public static func adjustBrightness(_ img: inout RGBImage, _ f: Float) {
        let lut = blendTable(0, f)
        lut.withUnsafeBufferPointer { t in img.pixels.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = t[Int(p[i])] } } }
    }

    public static func adjustContrast(_ img: inout RGBImage, _ f: Float) {
        let n = img.width * img.height
        img.pixels.withUnsafeMutableBufferPointer { px in
            var sum = 0
            for p in 0..<n { sum += Int(luma(px[3 * p], px[3 * p + 1], px[3 * p + 2])) }
            let mean = UInt8(Int(Double(sum) / Double(n) + 0.5))
            let lut = blendTable(mean, f)
            lut.withUnsafeBufferPointer { t in for i in 0..<px.count { px[i] = t[Int(px[i])] } }
        }
    }

    public static func adjustSaturation(_ img: inout RGBImage, _ f: Float) {
        let n = img.width * img.height
        img.pixels.withUnsafeMutableBufferPointer { px in
            for p in 0..<n {
                let l = luma(px[3 * p], px[3 * p + 1], px[3 * p + 2])
                px[3 * p] = blend(l, px[3 * p], f); px[3 * p + 1] = blend(l, px[3 * p + 1], f); px[3 * p + 2] = blend(l, px[3 * p + 2], f)
            }
        }
    }

    public static func grayscale(_ img: inout RGBImage) {
        let n = img.width * img.height
        img.pixels.withUnsafeMutableBufferPointer { px in
            for p in 0..<n {
                let l = luma(px[3 * p], px[3 * p + 1], px[3 * p + 2])
                px[3 * p] = l; px[3 * p + 1] = l; px[3 * p + 2] = l
            }
        }
    }

    @inline(__always) static func clip8i(_ v: Int) -> UInt8 { UInt8(max(0, min(255, v))) }

    /// C round() (half away from zero) for x ≥ 0 without a libm call: trunc is one instruction
    /// and x − trunc(x) is exact.
    @inline(__always) static func roundHalfUp(_ x: Double) -> Int {
        let t = x.rounded(.towardZero)
        return Int(t) + (x - t >= 0.5 ? 1 : 0)
    }

    /// Tables for adjust_hue, each entry computed by exactly PIL's expression (so the lookup is
    /// bit-identical to computing it per pixel): ratio[cr][d] = Float(d)/Float(cr), sat[cr][maxc],
    /// and per hue byte the HSV→RGB sector and fraction, per saturation byte fs.
    struct HueTables {
        var ratio = [Float](repeating: 0, count: 256 * 256)
        var sat = [UInt8](repeating: 0, count: 256 * 256)
        var sector = [Int](repeating: 0, count: 256)
        var frac = [Float](repeating: 0, count: 256)
        var fs = [Float](repeating: 0, count: 256)
        init() {
            for cr in 1..<256 {
                for d in 0...cr { ratio[cr * 256 + d] = Float(d) / Float(cr) }
                for maxc in cr..<256 { sat[cr * 256 + maxc] = ImageOps.clip8i(Int(Double(Float(cr) / Float(maxc)) * 255.0)) }
            }
            for hh in 0..<256 {
                let hd = Double(Float(hh)) * 6.0 / 255.0
                sector[hh] = Int(hd)
                frac[hh] = Float(hd - Double(Float(Int(hd))))
                fs[hh] = Float(Double(Float(hh)) / 255.0)
            }
        }
    }
    static let hueTables = HueTables()

    /// torchvision adjust_hue on PIL: RGB → HSV (uint8), h += trunc(factor·255) mod 256, → RGB.
    /// PIL's rgb2hsv/hsv2rgb, including its float/double mix (see HueTables).
    public static func adjustHue(_ img: inout RGBImage, _ factor: Float) {
        let shift = UInt8(truncatingIfNeeded: Int(factor * 255))
        let n = img.width * img.height
        let T = hueTables
        T.ratio.withUnsafeBufferPointer { ratio in T.sat.withUnsafeBufferPointer { sat in
        img.pixels.withUnsafeMutableBufferPointer { px in
            for p in 0..<n {
                let r = px[3 * p], g = px[3 * p + 1], b = px[3 * p + 2]
                let maxc = max(r, max(g, b)), minc = min(r, min(g, b))
                if minc == maxc { continue }                 // s = 0: unchanged (h = 0, v = max)
                let cr = Int(maxc - minc), row = cr * 256
                let rc = ratio[row + Int(maxc - r)], gc = ratio[row + Int(maxc - g)], bc = ratio[row + Int(maxc - b)]
                var h: Float
                // 2.0/4.0 are double literals in C: those sums are evaluated in double, then stored.
                if r == maxc { h = bc - gc }
                else if g == maxc { h = Float(2.0 + Double(rc) - Double(bc)) }
                else { h = Float(4.0 + Double(gc) - Double(rc)) }
                // fmod(x, 1) for x = h/6 + 1 ∈ [5/6, 2): x − 1 when x ≥ 1, exact in double (Sterbenz).
                let x = Double(h) / 6.0 + 1.0
                h = Float(x >= 1.0 ? x - 1.0 : x)
                let uh = clip8i(Int(Double(h) * 255.0)), us = sat[row + Int(maxc)]
                if us == 0 { px[3 * p] = maxc; px[3 * p + 1] = maxc; px[3 * p + 2] = maxc; continue }
                let hh = Int(uh &+ shift)
                let i = T.sector[hh], f = Double(T.frac[hh]), fs = Double(T.fs[Int(us)])
                let v = Double(maxc)
                let pp = clip8i(roundHalfUp(v * (1.0 - fs)))
                let q = clip8i(roundHalfUp(v * (1.0 - fs * f)))
                let t = clip8i(roundHalfUp(v * (1.0 - fs * (1.0 - f))))
                let uv = maxc
                switch i % 6 {
                case 0: px[3 * p] = uv; px[3 * p + 1] = t; px[3 * p + 2] = pp
                case 1: px[3 * p] = q; px[3 * p + 1] = uv; px[3 * p + 2] = pp
                case 2: px[3 * p] = pp; px[3 * p + 1] = uv; px[3 * p + 2] = t
                case 3: px[3 * p] = pp; px[3 * p + 1] = q; px[3 * p + 2] = uv
                case 4: px[3 * p] = t; px[3 * p + 1] = pp; px[3 * p + 2] = uv
                default: px[3 * p] = uv; px[3 * p + 1] = pp; px[3 * p + 2] = q
                }
            }
        } } }
    }

    public static func solarize(_ img: inout RGBImage, threshold: UInt8 = 128) {
        img.pixels.withUnsafeMutableBufferPointer { px in for i in 0..<px.count where px[i] >= threshold { px[i] = 255 - px[i] } }
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

    /// Vertical box-blur pass over every byte column of an (h, rowBytes) image: 8 adjacent byte
    /// columns (independent lines) per SIMD step, UInt32 arithmetic exactly as PIL's line blur.
    static func boxBlurColumns(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, rows h: Int, rowBytes: Int,
                               radius floatRadius: Float) {
        typealias U8 = SIMD8<UInt32>
        let radius = Int(floatRadius)
        let wwS = UInt32(Float(1 << 24) / (floatRadius * 2 + 1))
        let fwS = ((UInt32(1) << 24) &- UInt32(radius * 2 + 1) &* wwS) / 2
        let ww = U8(repeating: wwS), fw = U8(repeating: fwS), half = U8(repeating: 1 << 23)
        let lastx = h - 1, edgeA = min(radius + 1, h), edgeB = max(h - radius - 1, 0)
        @inline(__always) func ld(_ row: Int, _ col: Int) -> U8 {
            let q = src + row * rowBytes + col
            return U8(UInt32(q[0]), UInt32(q[1]), UInt32(q[2]), UInt32(q[3]), UInt32(q[4]), UInt32(q[5]), UInt32(q[6]), UInt32(q[7]))
        }
        var col = 0
        while col + 8 <= rowBytes {
            var acc = ld(0, col) &* UInt32(radius + 1)
            if edgeA > 1 { for x in 0..<(edgeA - 1) { acc &+= ld(x, col) } }
            acc &+= ld(lastx, col) &* UInt32(radius - edgeA + 1)
            @inline(__always) func emit(_ x: Int, _ sub: Int, _ add: Int, _ left: Int, _ right: Int) {
                acc &+= ld(add, col) &- ld(sub, col)
                let v = (acc &* ww &+ (ld(left, col) &+ ld(right, col)) &* fw &+ half) &>> 24
                let o = dst + x * rowBytes + col
                for k in 0..<8 { o[k] = UInt8(truncatingIfNeeded: v[k]) }
            }
            var x = 0
            if edgeA <= edgeB {
                while x < edgeA { emit(x, 0, x + radius, 0, x + radius + 1); x += 1 }
                while x < edgeB { emit(x, x - radius - 1, x + radius, x - radius - 1, x + radius + 1); x += 1 }
            } else {
                while x < edgeB { emit(x, 0, x + radius, 0, x + radius + 1); x += 1 }
                while x < edgeA { emit(x, 0, lastx, 0, lastx); x += 1 }
            }
            while x <= lastx { emit(x, x - radius - 1, lastx, x - radius - 1, lastx); x += 1 }
            col += 8
        }
        if col < rowBytes {
            // Remaining byte columns: the scalar line blur (pixelStep in bytes = rowBytes).
            for c in col..<rowBytes {
                boxBlurLine(src + c, dst + c, len: h, step: rowBytes, radius: floatRadius)
            }
        }
    }

    /// Scalar PIL line blur of one byte line (len values `step` bytes apart).
    static func boxBlurLine(_ p: UnsafePointer<UInt8>, _ o: UnsafeMutablePointer<UInt8>, len: Int, step ps: Int, radius floatRadius: Float) {
        let radius = Int(floatRadius)
        let ww = UInt32(Float(1 << 24) / (floatRadius * 2 + 1))
        let fw = ((UInt32(1) << 24) &- UInt32(radius * 2 + 1) &* ww) / 2
        let lastx = len - 1, edgeA = min(radius + 1, len), edgeB = max(len - radius - 1, 0)
        var acc = UInt32(p[0]) &* UInt32(radius + 1)
        if edgeA > 1 { for x in 0..<(edgeA - 1) { acc &+= UInt32(p[x * ps]) } }
        acc &+= UInt32(p[lastx * ps]) &* UInt32(radius - edgeA + 1)
        var x = 0
        @inline(__always) func emit(_ sub: Int, _ add: Int, _ left: Int, _ right: Int) {
            acc = acc &+ UInt32(p[add * ps]) &- UInt32(p[sub * ps])
            let bulk = acc &* ww &+ (UInt32(p[left * ps]) &+ UInt32(p[right * ps])) &* fw
            o[x * ps] = UInt8(truncatingIfNeeded: (bulk &+ (1 << 23)) >> 24)
            x += 1
        }
        if edgeA <= edgeB {
            while x < edgeA { emit(0, x + radius, 0, x + radius + 1) }
            while x < edgeB { emit(x - radius - 1, x + radius, x - radius - 1, x + radius + 1) }
        } else {
            while x < edgeB { emit(0, x + radius, 0, x + radius + 1) }
            while x < edgeA { emit(0, lastx, 0, lastx) }
        }
        while x <= lastx { emit(x - radius - 1, lastx, x - radius - 1, lastx) }
    }

    /// (h, w) RGB → (w, h) RGB.
    static func transposeRGB(_ s: UnsafePointer<UInt8>, _ o: UnsafeMutablePointer<UInt8>, width w: Int, height h: Int) {
        for y in 0..<h { for x in 0..<w {
            let a = s + (y * w + x) * 3, b = o + (x * h + y) * 3
            b[0] = a[0]; b[1] = a[1]; b[2] = a[2]
        } }
    }

    /// ImageFilter.GaussianBlur(radius): 3 extended-box-blur passes along x, then 3 along y.
    /// Rows are blurred as columns of the transposed image (the same per-line algorithm).
    public static func gaussianBlur(_ img: inout RGBImage, radius: Float) {
        guard radius > 0 else { return }
        let r = boxRadius(radius, passes: 3), w = img.width, h = img.height
        var t1 = [UInt8](repeating: 0, count: img.pixels.count), t2 = t1
        img.pixels.withUnsafeMutableBufferPointer { ab in t1.withUnsafeMutableBufferPointer { b1 in t2.withUnsafeMutableBufferPointer { b2 in
            let a = ab.baseAddress!, x = b1.baseAddress!, y = b2.baseAddress!
            transposeRGB(a, x, width: w, height: h)                       // (w, h): image rows are columns now
            boxBlurColumns(x, y, rows: w, rowBytes: h * 3, radius: r)
            boxBlurColumns(y, x, rows: w, rowBytes: h * 3, radius: r)
            boxBlurColumns(x, y, rows: w, rowBytes: h * 3, radius: r)
            transposeRGB(y, a, width: h, height: w)
            boxBlurColumns(a, x, rows: h, rowBytes: w * 3, radius: r)
            boxBlurColumns(x, y, rows: h, rowBytes: w * 3, radius: r)
            boxBlurColumns(y, a, rows: h, rowBytes: w * 3, radius: r)
        } } }
    }
}
