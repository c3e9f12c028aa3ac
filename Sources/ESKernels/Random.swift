// Counter-based, keyed random numbers: every draw is a pure function of a key such as
// (seed, epoch, global sample index, crop, purpose), so results never depend on the number of
// ranks, threads or where a run was resumed. SplitMix64 finalisers chain the key words.
public struct KeyedRandom {
    private var state: UInt64

    public init(_ keys: UInt64...) {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        for k in keys { h = KeyedRandom.mix(h ^ KeyedRandom.mix(k &+ 0x632B_E59B_D9B4_E019)) }
        state = h
    }

    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        return KeyedRandom.mix(state)
    }

    /// Uniform in [0, 1) with 53 bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }

    /// Standard normal (Box-Muller).
    public mutating func normal() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }
}

@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
import Foundation
