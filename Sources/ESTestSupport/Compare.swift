// Tensor comparison for oracle tests and `esvit forward` checks: max abs difference, relative
// L2 error, and the first mismatching elements for the failure message. A pair passes when
// every element satisfies |got − want| ≤ atol + rtol·|want|.

public struct Comparison: CustomStringConvertible {
    public let name: String
    public let count: Int
    public let maxAbs: Double
    public let relL2: Double
    public let mismatches: [(index: Int, got: Float, want: Float)]
    public let mismatchCount: Int
    public var ok: Bool { mismatchCount == 0 && count > 0 }

    public init(_ name: String, got: UnsafePointer<Float>, want: UnsafePointer<Float>, count: Int,
                atol: Double, rtol: Double = 0) {
        self.name = name; self.count = count
        var maxAbs = 0.0, num = 0.0, den = 0.0, bad = 0
        var first: [(Int, Float, Float)] = []
        for i in 0..<count {
            let g = Double(got[i]), w = Double(want[i]), d = abs(g - w)
            maxAbs = max(maxAbs, d.isNaN ? .infinity : d)
            num += (g - w) * (g - w); den += w * w
            if !(d <= atol + rtol * abs(w)) {
                bad += 1
                if first.count < 5 { first.append((i, got[i], want[i])) }
            }
        }
        self.maxAbs = maxAbs
        relL2 = den > 0 ? (num / den).squareRoot() : num.squareRoot()
        mismatches = first.map { (index: $0.0, got: $0.1, want: $0.2) }
        mismatchCount = bad
    }

    public init(_ name: String, got: [Float], want: [Float], atol: Double, rtol: Double = 0) {
        precondition(got.count == want.count, "\(name): \(got.count) values vs \(want.count)")
        let c = got.withUnsafeBufferPointer { g in
            want.withUnsafeBufferPointer { w in
                Comparison(name, got: g.baseAddress!, want: w.baseAddress!, count: got.count, atol: atol, rtol: rtol)
            }
        }
        self = c
    }

    public var description: String {
        var s = "\(name): n=\(count) max|Δ|=\(String(format: "%.3g", maxAbs)) relL2=\(String(format: "%.3g", relL2))"
        if mismatchCount > 0 {
            s += " — \(mismatchCount) mismatches, first: "
            s += mismatches.map { "[\($0.index)] got \($0.got) want \($0.want)" }.joined(separator: "; ")
        }
        return s
    }
}
