// The hash and PRNG primitives of ESKernels/Random.swift pinned bit for bit: published SplitMix64
// and FNV-1a-64 vectors, values that seeds and fixtures were generated with before the three
// copies became one, and the lane-parallel FNV against a verbatim copy of Trainer.checksum.
import XCTest
import ESKernels
import ESTestSupport

final class RandomTests: XCTestCase {
    func testPublishedVectors() {
        var g = SplitMix64(state: 0)
        XCTAssertEqual([g.next(), g.next(), g.next()], [0xe220_a839_7b1d_cdaf, 0x6e78_9e6a_a1b9_65f4, 0x06c4_5d18_8009_454f])
        XCTAssertEqual(SplitMix64.mix(0), 0xe220_a839_7b1d_cdaf, "mix(x) is the output of a generator at state x")
        XCTAssertEqual(FNV1a64.hash(""), 0xcbf2_9ce4_8422_2325)
        XCTAssertEqual(FNV1a64.hash("a"), 0xaf63_dc4c_8601_ec8c)
        XCTAssertEqual(FNV1a64.hash("foobar"), 0x8594_4171_f739_67e8)
    }

    /// Values produced by the separate implementations this API replaced (FiniteDifference,
    /// FixtureTensors, stableHash, KeyedRandom), recorded before the switch.
    func testValuesUnchanged() {
        XCTAssertEqual(FiniteDifference.randoms(3, seed: 1).map(\.bitPattern),
                       [0x3fc1_0a2d_ec89_0258, 0x3fdf_75c6_d0b2_c774, 0x3fee_24e8_bbbe_cc94])
        XCTAssertEqual(FixtureTensors.array("input.step0.globals", count: 3, scale: 1).map(\.bitPattern),
                       [0x3f78_1c6c, 0x3ecd_330c, 0x3f37_0af0])
        XCTAssertEqual(FixtureTensors.array("norm.weight", count: 3, scale: 0.2, offset: 1).map(\.bitPattern),
                       [0x3f67_b9d1, 0x3f95_54d6, 0x3f81_8e2e])
        XCTAssertEqual(FNV1a64.hash("backbone.layers.0.blocks.1.attn.qkv.weight"), 0x0b2b_09a6_be02_92f6)
        var k = KeyedRandom(7, 3, 11)
        XCTAssertEqual([k.next(), k.next()], [0x0357_0921_61b7_1eea, 0x22e4_ca67_031b_4576])
    }

    /// Verbatim copy of ESTrain's Trainer.checksum (Sources/ESTrain/Trainer.swift) at the time
    /// FNV1a64.updateLanes8 was added: the API must reproduce it bit for bit.
    static func trainerChecksum(_ buffers: FloatBuffer...) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in buffers {
            b.pointer.withMemoryRebound(to: UInt32.self, capacity: b.count) { p in
                var lanes = SIMD8<UInt64>(repeating: 0)
                var i = 0
                while i + 8 <= b.count {
                    var v = SIMD8<UInt64>(repeating: 0)
                    for k in 0..<8 { v[k] = UInt64(p[i + k]) }
                    lanes = (lanes &* 0x100_0000_01b3) ^ v
                    i += 8
                }
                while i < b.count { h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3; i += 1 }
                for k in 0..<8 { h = (h ^ lanes[k]) &* 0x100_0000_01b3 }
            }
        }
        return h
    }

    func testLanes8MatchesTrainerChecksum() {
        let buffers = [0, 1, 7, 8, 9, 64, 1003, 100_003].enumerated().map { j, n in
            FloatBuffer(FiniteDifference.randoms(n, seed: UInt64(30 + j)).map { Float($0) * 3 })
        }
        var h = FNV1a64()
        for b in buffers {
            b.pointer.withMemoryRebound(to: UInt32.self, capacity: b.count) { h.updateLanes8(words: $0, count: b.count) }
        }
        XCTAssertEqual(h.value, RandomTests.trainerChecksum(buffers[0], buffers[1], buffers[2], buffers[3], buffers[4],
                                                             buffers[5], buffers[6], buffers[7]))
        for b in buffers {
            var one = FNV1a64()
            b.pointer.withMemoryRebound(to: UInt32.self, capacity: b.count) { one.updateLanes8(words: $0, count: b.count) }
            XCTAssertEqual(one.value, RandomTests.trainerChecksum(b), "\(b.count) words")
        }
        // Order-sensitive across buffers, and different from the sequential word hash.
        XCTAssertNotEqual(RandomTests.trainerChecksum(buffers[6], buffers[7]), RandomTests.trainerChecksum(buffers[7], buffers[6]))
        var seq = FNV1a64()
        buffers[6].pointer.withMemoryRebound(to: UInt32.self, capacity: 1003) { seq.update(words: $0, count: 1003) }
        XCTAssertNotEqual(seq.value, RandomTests.trainerChecksum(buffers[6]))
    }

    func testWordUpdateIsByteFNVForBytes() {
        let bytes: [UInt8] = Array("backbone.norm.weight".utf8)
        var a = FNV1a64(), b = FNV1a64()
        a.update(bytes: bytes)
        let words = bytes.map(UInt32.init)
        words.withUnsafeBufferPointer { b.update(words: $0.baseAddress!, count: words.count) }
        XCTAssertEqual(a.value, b.value, "a word below 256 is absorbed exactly like a byte")
        XCTAssertEqual(a.value, FNV1a64.hash("backbone.norm.weight"))
    }
}
