// The project's one home for its hash and pseudo-random primitives:
//   SplitMix64  the generator and its finaliser (mixing function), used by KeyedRandom, the test
//               inputs of FiniteDifference and the name-keyed FixtureTensors;
//   FNV1a64     64-bit FNV-1a: over bytes (stableHash of parameter names) and over 32-bit words,
//               sequentially or in 8 independent lanes (the trainer's parameter checksum);
//   KeyedRandom counter-based, keyed random numbers: every draw is a pure function of a key such
//               as (seed, epoch, global sample index, crop, purpose), so results never depend on
//               the number of ranks, threads or where a run was resumed. SplitMix64 finalisers
//               chain the key words.
// Seeds, fixtures and checkpoints depend on these values bit for bit: never change them.

/// SplitMix64 (Steele, Lea, Flood 2014): state += γ; output = finalize(state).
public struct SplitMix64 {
    /// The golden-ratio increment γ.
    public static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15
    public var state: UInt64

    public init(state: UInt64) { self.state = state }

    /// The output function (Stafford's variant 13 finaliser).
    @inlinable public static func finalize(_ x: UInt64) -> UInt64 {
        var z = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// finalize(x + γ): the output of a generator whose state was x, a stateless mixer of one word.
    @inlinable public static func mix(_ x: UInt64) -> UInt64 { finalize(x &+ gamma) }

    @inlinable public mutating func next() -> UInt64 {
        state = state &+ SplitMix64.gamma
        return SplitMix64.finalize(state)
    }
}

/// 64-bit FNV-1a: h = (h ⊕ word) · prime for each word, from the offset basis. Over bytes this is
/// the standard FNV-1a-64; the word updates XOR a whole 32- or 64-bit word in per step.
public struct FNV1a64 {
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    public static let prime: UInt64 = 0x100_0000_01b3
    public var value: UInt64

    public init() { value = FNV1a64.offsetBasis }

    @inlinable public mutating func update(word: UInt64) { value = (value ^ word) &* FNV1a64.prime }

    public mutating func update<S: Sequence>(bytes: S) where S.Element == UInt8 {
        for b in bytes { update(word: UInt64(b)) }
    }

    /// One step per 32-bit word, in order.
    public mutating func update(words p: UnsafePointer<UInt32>, count: Int) {
        for i in 0..<count { update(word: UInt64(p[i])) }
    }

    /// The lane-parallel variant (vectorises; not equal to `update(words:count:)`): 8 lanes start
    /// at 0 and absorb words i ≡ k (mod 8) of the whole blocks of 8 as lane = (lane · prime) ⊕ w;
    /// then the value absorbs the remaining count mod 8 words one step each, then the 8 lanes in
    /// order. Lanes restart at 0 on every call, so a call per buffer hashes a list of buffers.
    public mutating func updateLanes8(words p: UnsafePointer<UInt32>, count: Int) {
        var lanes = SIMD8<UInt64>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            var v = SIMD8<UInt64>(repeating: 0)
            for k in 0..<8 { v[k] = UInt64(p[i + k]) }
            lanes = (lanes &* FNV1a64.prime) ^ v
            i += 8
        }
        while i < count { update(word: UInt64(p[i])); i += 1 }
        for k in 0..<8 { update(word: lanes[k]) }
    }

    /// FNV-1a-64 of a string's UTF-8 bytes.
    public static func hash(_ s: String) -> UInt64 {
        var h = FNV1a64()
        h.update(bytes: s.utf8)
        return h.value
    }
}

/// Counter-based, keyed random numbers (see the top of this file).
public struct KeyedRandom {
    private var state: UInt64

    public init(_ keys: UInt64...) {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        for k in keys { h = SplitMix64.mix(h ^ SplitMix64.mix(k &+ 0x632B_E59B_D9B4_E019)) }
        state = h
    }

    public mutating func next() -> UInt64 {
        state = state &+ SplitMix64.gamma
        return SplitMix64.mix(state)
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
