// Small SIMD8 building blocks over raw pointers (dot, axpy, scale, add) with scalar tails.
// Used inside the kernels' inner loops; everything is @inline(__always) so no call remains.
@usableFromInline typealias V8 = SIMD8<Float>

@inline(__always) @usableFromInline
func load8(_ p: UnsafePointer<Float>) -> V8 {
    UnsafeRawPointer(p).loadUnaligned(as: V8.self)
}

@inline(__always) @usableFromInline
func store8(_ v: V8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
}

/// Σ a[i]·b[i], n elements (public: also used by the loss's matching).
@inlinable @inline(__always)
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = V8(), acc1 = V8()
    var i = 0
    while i + 16 <= n {
        acc0 = acc0.addingProduct(load8(a + i), load8(b + i))
        acc1 = acc1.addingProduct(load8(a + i + 8), load8(b + i + 8))
        i += 16
    }
    if i + 8 <= n { acc0 = acc0.addingProduct(load8(a + i), load8(b + i)); i += 8 }
    var s = (acc0 + acc1).sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// y[i] += alpha·x[i], n elements.
@inline(__always) @usableFromInline
func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let a = V8(repeating: alpha)
    var i = 0
    while i + 8 <= n { store8(load8(y + i).addingProduct(a, load8(x + i)), y + i); i += 8 }
    while i < n { y[i] += alpha * x[i]; i += 1 }
}

/// y[i] = alpha·x[i], n elements.
@inline(__always) @usableFromInline
func scaleInto(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let a = V8(repeating: alpha)
    var i = 0
    while i + 8 <= n { store8(a * load8(x + i), y + i); i += 8 }
    while i < n { y[i] = alpha * x[i]; i += 1 }
}

/// y[i] += x[i], n elements.
@inline(__always) @usableFromInline
func addInto(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 8 <= n { store8(load8(y + i) + load8(x + i), y + i); i += 8 }
    while i < n { y[i] += x[i]; i += 1 }
}
