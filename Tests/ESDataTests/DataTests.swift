// IDX / Fashion-MNIST reading (real files from Debian's package, plus malformed ones) and the
// epoch sampler: deterministic permutations, DistributedSampler padding, disjoint shards that
// cover the padded epoch, and mid-epoch resume positions.
import XCTest
import Foundation
import ESData
import ESTestSupport

final class IDXTests: XCTestCase {
    var tmp: TemporaryDirectory!
    var dir: URL { tmp.url }

    override func setUpWithError() throws { tmp = try TemporaryDirectory(prefix: "esvit-idx") }
    override func tearDown() { tmp = nil }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = dir.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    func expectError(_ path: String, _ words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try IDX.read(path), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(words), "'\(e)' lacks '\(words)'", file: file, line: line)
        }
    }

    func testRealFashionMNIST() throws {
        let train = try FashionMNIST(split: .train), test = try FashionMNIST(split: .test)
        XCTAssertEqual(train.count, 60000); XCTAssertEqual(test.count, 10000)
        XCTAssertEqual(train.pixels.count, 60000 * 784)
        XCTAssertEqual(train.labels[0], 9, "the first training image is an ankle boot")
        var hist = [Int](repeating: 0, count: 10)
        for l in train.labels { hist[Int(l)] += 1 }
        XCTAssertEqual(hist, [Int](repeating: 6000, count: 10))
        hist = [Int](repeating: 0, count: 10)
        for l in test.labels { hist[Int(l)] += 1 }
        XCTAssertEqual(hist, [Int](repeating: 1000, count: 10))
        XCTAssertGreaterThan(train.pixels.max()!, 200, "real images, not zeros")
    }

    func testPlainAndGzipAndMalformed() throws {
        let good: [UInt8] = [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]
        let plain = write("ok-idx2-ubyte", good)
        let a = try IDX.read(plain)
        XCTAssertEqual(a.shape, [2, 3]); XCTAssertEqual(a.bytes, [1, 2, 3, 4, 5, 6])
        let gz = Process()
        gz.executableURL = URL(fileURLWithPath: "/bin/gzip"); gz.arguments = ["-k", plain]
        try gz.run(); gz.waitUntilExit()
        XCTAssertEqual(try IDX.read(plain + ".gz").bytes, [1, 2, 3, 4, 5, 6])
        expectError(write("magic", [1, 2, 8, 1, 0, 0, 0, 1, 7]), "bad magic")
        expectError(write("type", [0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]), "not unsigned byte")
        expectError(write("short", [0, 0, 8, 3, 0, 0]), "header truncated")
        expectError(write("trunc", Array(good.dropLast(2))), "needs 6 bytes but the file holds 4")
        var corrupt = [UInt8](try Data(contentsOf: URL(fileURLWithPath: plain + ".gz")))
        corrupt[corrupt.count / 2] ^= 0xFF
        corrupt.removeLast(8)
        let bad = write("corrupt.gz", corrupt)
        XCTAssertThrowsError(try IDX.read(bad))
        expectError(dir.appendingPathComponent("nope").path, "no such file")
        XCTAssertThrowsError(try FashionMNIST(root: dir.path, split: .train)) { e in
            XCTAssertTrue("\(e)".contains("apt-get install dataset-fashion-mnist"), "\(e)")
        }
    }
}

final class SamplerTests: XCTestCase {
    func testPermutationIsDeterministicPerEpoch() {
        let s = EpochSampler(count: 1000, worldSize: 1, rank: 0, batchPerRank: 10, seed: 0)
        let p0 = s.permutation(epoch: 0)
        XCTAssertEqual(p0.sorted(), Array(0..<1000))
        XCTAssertEqual(p0, s.permutation(epoch: 0))
        XCTAssertNotEqual(p0, s.permutation(epoch: 1))
        XCTAssertNotEqual(p0, EpochSampler(count: 1000, worldSize: 1, rank: 0, batchPerRank: 10, seed: 1).permutation(epoch: 0))
        XCTAssertNotEqual(p0, Array(0..<1000))
    }

    func testShardsAreDisjointAndCoverThePaddedEpoch() {
        let N = 103, W = 4, B = 5
        let samplers = (0..<W).map { EpochSampler(count: N, worldSize: W, rank: $0, batchPerRank: B, seed: 7) }
        XCTAssertEqual(samplers[0].samplesPerRank, 26); XCTAssertEqual(samplers[0].iterationsPerEpoch, 5)
        let order = samplers[0].paddedOrder(epoch: 3)
        XCTAssertEqual(order.count, 104)
        XCTAssertEqual(Array(order[103...]), Array(order[0..<1]), "padding repeats the head")
        var seen: [Int] = []
        for s in samplers { for it in 0..<s.iterationsPerEpoch { seen += s.batch(epoch: 3, iteration: it) } }
        // All ranks' batches are distinct positions of the padded order (disjoint shards).
        XCTAssertEqual(seen.count, W * 5 * B)
        let positions = samplers.flatMap { s in (0..<s.iterationsPerEpoch).flatMap { it in (0..<B).map { (it * B + $0) * W + s.rank } } }
        XCTAssertEqual(Set(positions).count, positions.count)
        XCTAssertEqual(positions.map { order[$0] }.sorted(), seen.sorted())
        // Without drop_last the shards would cover every padded position exactly once.
        let all = samplers.flatMap { s in (0..<s.samplesPerRank).map { $0 * W + s.rank } }
        XCTAssertEqual(all.sorted(), Array(0..<104))
    }

    func testResumePositionsAcrossWorldSizes() {
        let one = EpochSampler(count: 1000, worldSize: 1, rank: 0, batchPerRank: 8, seed: 0)
        let pos = one.globalPosition(epoch: 2, iteration: 30)
        XCTAssertEqual(pos, (2 * 125 + 30) * 8)
        XCTAssertTrue(one.resumePoint(globalPosition: pos) == (2, 30))
        // Two ranks × 4 consume the same global samples per iteration as one rank × 8.
        let two = EpochSampler(count: 1000, worldSize: 2, rank: 0, batchPerRank: 4, seed: 0)
        XCTAssertTrue(two.resumePoint(globalPosition: pos) == (2, 30))
        XCTAssertEqual(two.permutation(epoch: 2), one.permutation(epoch: 2), "the order does not depend on the world size")
    }
}
