// Vectorised exp and erf on SIMD8<Float> (the scalar libm calls dominated GELU and softmax).
//   exp: x = n·ln2 + r, |r| ≤ ln2/2 (Cody–Waite split), degree-6 Taylor polynomial in r (Horner, FMA),
//        scaled by 2ⁿ through the exponent bits. Relative error ≈ 2e-7 on [−87, 88].
//   erf: Abramowitz & Stegun 7.1.26, erf|x| = 1 − t(a1 + t(a2 + t(a3 + t(a4 + t a5))))·e^(−x²),
//        t = 1/(1 + p|x|), sign restored. 1.5e-7 in exact arithmetic; measured in float: 4.1e-7.
// Both are tested against libm in VectorMathTests.

// Only plain arithmetic, comparisons with blends, and bit casts are used below: the generic SIMD
// helpers (clamped, pointwiseMax, rounding conversions) compile to unspecialised calls.
@inline(__always) @usableFromInline
func vmax(_ a: V8, _ b: V8) -> V8 { a.replacing(with: b, where: a .< b) }

@inline(__always) @usableFromInline
func vabs(_ x: V8) -> V8 {
    unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: V8.self)
}

@inline(__always) @usableFromInline
func vexp(_ x: V8) -> V8 {
    var xc = x.replacing(with: -87.3, where: x .< -87.3)
    xc = xc.replacing(with: 88.3, where: xc .> 88.3)
    // Round x·log2(e) to the nearest integer n with the 1.5·2²³ trick; n sits in the low bits.
    let shifted = xc * 1.44269504088896341 + 12582912.0
    let n = shifted - 12582912.0
    var r = xc - n * 0.693359375          // ln2 high part (exact in float)
    r = r - n * -2.12194440e-4            // ln2 low part
    var p = V8(repeating: 1.0 / 120).addingProduct(V8(repeating: 1.0 / 720), r)
    p = V8(repeating: 1.0 / 24).addingProduct(p, r)
    p = V8(repeating: 1.0 / 6).addingProduct(p, r)
    p = V8(repeating: 0.5).addingProduct(p, r)
    p = V8(repeating: 1).addingProduct(p, r)
    p = V8(repeating: 1).addingProduct(p, r)
    let nInt = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let scale = unsafeBitCast((nInt &+ 127) &<< 23, to: V8.self)
    return p * scale
}

@inline(__always) @usableFromInline
func verf(_ x: V8) -> V8 { verf(x, gauss: vexp(-x * x)) }

/// erf(x) given gauss = e^(−x²) (GELU's backward has it at hand: its pdf needs the same exponential).
@inline(__always) @usableFromInline
func verf(_ x: V8, gauss: V8) -> V8 {
    let ax = vabs(x)
    let t = 1 / V8(repeating: 1).addingProduct(ax, 0.3275911)
    var y = V8(repeating: -1.453152027).addingProduct(t, 1.061405429)
    y = V8(repeating: 1.421413741).addingProduct(y, t)
    y = V8(repeating: -0.284496736).addingProduct(y, t)
    y = V8(repeating: 0.254829592).addingProduct(y, t)
    y = V8(repeating: 1).addingProduct(-(y * t), gauss)
    // Restore the sign of x.
    let sign = unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x8000_0000
    return unsafeBitCast(unsafeBitCast(y, to: SIMD8<UInt32>.self) | sign, to: V8.self)
}

public enum VectorMath {
    /// Elementwise exp over n floats (tests; the kernels call vexp directly).
    public static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) { map(x, y, n, vexp) }

    /// Elementwise erf over n floats.
    public static func erf(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) { map(x, y, n, verf) }

    /// y += x over n floats (gradient accumulation).
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n { store8(load8(y + i) + load8(x + i), y + i); i += 8 }
        while i < n { y[i] += x[i]; i += 1 }
    }

    /// y *= a over n floats (averaging reduced gradients).
    public static func scale(_ y: UnsafeMutablePointer<Float>, by a: Float, _ n: Int) {
        var i = 0
        while i + 8 <= n { store8(load8(y + i) * a, y + i); i += 8 }
        while i < n { y[i] *= a; i += 1 }
    }

    /// y = f(x) eight lanes at a time; the tail goes through one zero-padded vector.
    @inline(__always)
    static func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ f: (V8) -> V8) {
        var i = 0
        while i + 8 <= n { store8(f(load8(x + i)), y + i); i += 8 }
        if i < n {
            var tmp = V8(repeating: 0)
            for k in 0..<(n - i) { tmp[k] = x[i + k] }
            let r = f(tmp)
            for k in 0..<(n - i) { y[i + k] = r[k] }
        }
    }
}
