// Multi-crop loader: deterministic crops (same key → byte-identical crops across runs and
// loader-thread counts), view-major layout checked against direct per-crop computation,
// mid-epoch start, and a folder salted with the bad-file corpus: an epoch completes, every bad
// file is replaced deterministically, logged once, and counted.
import XCTest
import Foundation
import ESData
import ESKernels
import ESTestSupport

final class LoaderTests: XCTestCase {
    let config = MultiCropConfig.fashionMNIST

    func batches(_ source: ImageSource, threads: Int, epoch: Int = 0, from: Int = 0, count: Int = 3, B: Int = 8,
                 log: @escaping @Sendable (String) -> Void = { _ in }) -> [([Float], [Float], [Int], Int, [Int])] {
        run(source, threads: threads, epochs: [epoch], from: from, count: count, B: B, log: log)
    }

    /// Up to `count` batches of each of `epochs`, in turn, from one loader (one run).
    func run(_ source: ImageSource, threads: Int, epochs: [Int], from: Int = 0, count: Int = 3, B: Int = 8,
             log: @escaping @Sendable (String) -> Void = { _ in }) -> [([Float], [Float], [Int], Int, [Int])] {
        let sampler = EpochSampler(count: source.count, worldSize: 1, rank: 0, batchPerRank: B, seed: 5)
        let loader = MultiCropLoader(source: source, sampler: sampler, config: config, seed: 5, threads: threads, log: log)
        var out: [([Float], [Float], [Int], Int, [Int])] = []
        for epoch in epochs {
            loader.start(epoch: epoch, fromIteration: from)
            for _ in 0..<count {
                guard let b = loader.next() else { break }
                out.append((b.globals.array, b.locals.array, b.labels, b.replaced, b.indices))
            }
        }
        loader.stop()
        return out
    }

    func testDeterministicAcrossThreadCountsAndRuns() throws {
        let fm = try FashionMNIST(split: .train)
        let a = batches(fm, threads: 1), b = batches(fm, threads: 3), c = batches(fm, threads: 3)
        XCTAssertEqual(a.count, 3)
        for k in 0..<3 {
            XCTAssertEqual(a[k].0, b[k].0, "globals of batch \(k), 1 vs 3 threads"); XCTAssertEqual(a[k].1, b[k].1)
            XCTAssertEqual(b[k].0, c[k].0, "run to run")
        }
        XCTAssertNotEqual(a[0].0, batches(fm, threads: 2, epoch: 1, count: 1)[0].0, "another epoch draws other crops")
    }

    func testViewMajorLayoutMatchesDirectCrops() throws {
        let fm = try FashionMNIST(split: .train)
        let B = 8, G = config.globalSize, L = config.localSize
        let sampler = EpochSampler(count: fm.count, worldSize: 1, rank: 0, batchPerRank: B, seed: 5)
        let loader = MultiCropLoader(source: fm, sampler: sampler, config: config, seed: 5, threads: 2)
        loader.start(epoch: 2)
        let batch = try XCTUnwrap(loader.next())
        XCTAssertEqual(batch.indices, sampler.batch(epoch: 2, iteration: 0))
        for (b, i) in batch.indices.enumerated() {
            let img = try fm.load(i, minShortSide: 0)
            for c in [0, 1, 2, config.crops - 1] {
                var rng = MultiCrop.rng(seed: 5, epoch: 2, sample: i, crop: c)
                let out = MultiCrop.augment(img, crop: c, config: config, rng: &rng)
                let n = out.width * out.height * 3
                var want = [Float](repeating: 0, count: n)
                want.withUnsafeMutableBufferPointer { MultiCrop.normalize(out, mean: config.mean, std: config.std, into: $0.baseAddress!) }
                let got = c < 2 ? Array(batch.globals.array[((c * B + b) * 3 * G * G)..<((c * B + b + 1) * 3 * G * G)])
                                : Array(batch.locals.array[(((c - 2) * B + b) * 3 * L * L)..<(((c - 2) * B + b + 1) * 3 * L * L)])
                XCTAssertEqual(got, want, "sample \(i) crop \(c)")
            }
            XCTAssertEqual(batch.labels[b], Int(fm.labels[i]))
        }
        // Normalised values of a pixel: (x/255 − 0.2860)/0.3530 ∈ [−0.81, 2.02].
        XCTAssertTrue(batch.globals.array.allSatisfy { $0 >= -0.82 && $0 <= 2.03 })
        loader.stop()
    }

    func testMidEpochStartMatchesFullEpoch() throws {
        let fm = try FashionMNIST(split: .test)
        let full = batches(fm, threads: 2, count: 4)
        let resumed = batches(fm, threads: 2, from: 2, count: 2)
        XCTAssertEqual(resumed[0].0, full[2].0); XCTAssertEqual(resumed[1].1, full[3].1)
    }

    /// DCT-domain downscaling: with small crops of a 200×160 JPEG the loader decodes at reduced
    /// size, yet the crops stay close to those from a full-size decode (same boxes, mapped).
    func testDCTScalingIsUsedAndStaysClose() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-dct")
        let corpus = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("jpeg")
        try FileManager.default.createDirectory(atPath: tmp.path("c"), withIntermediateDirectories: true)
        for k in 0..<8 { try FileManager.default.copyItem(atPath: corpus.appendingPathComponent("big.jpg").path, toPath: tmp.path("c/\(k).jpg")) }
        let folder = try ImageFolder(root: tmp.url.path)
        let cfg = MultiCropConfig(globalSize: 24, localSize: 12, localCrops: 2, mean: MultiCropConfig.imagenetMean, std: MultiCropConfig.imagenetStd)
        func run(_ dct: Bool) -> (FloatBuffer, FloatBuffer, Int) {
            let sampler = EpochSampler(count: 8, worldSize: 1, rank: 0, batchPerRank: 8, seed: 1)
            let l = MultiCropLoader(source: folder, sampler: sampler, config: cfg, seed: 1, threads: 1, dctScaling: dct)
            l.start(epoch: 0)
            let b = l.next()!
            let r = (FloatBuffer(b.globals.array), FloatBuffer(b.locals.array), l.reducedDecodes)
            l.stop()
            return r
        }
        let (g1, l1, n1) = run(true), (g0, l0, n0) = run(false)
        XCTAssertEqual(n0, 0); XCTAssertGreaterThan(n1, 0, "DCT scaling engaged")
        XCTAssertEqual(g1.count, g0.count); XCTAssertEqual(l1.count, l0.count)
        var diff = 0.0
        for k in 0..<g0.count { diff += Double(abs(g1[k] - g0[k])) }
        let meanDiff = diff / Double(g0.count)
        print("DCT-scaled vs full decode: mean |Δ| \(meanDiff) (normalised units)")
        XCTAssertLessThan(meanDiff, 0.15, "reduced-size decoding changes crops only slightly")
        XCTAssertNotEqual(g1.array, g0.array, "and it did change the decode")
    }

    func testBadFilesAreReplacedCountedAndLoggedOnce() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-bad")
        let corpus = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("jpeg")
        let fm = FileManager.default
        let good = try Data(contentsOf: corpus.appendingPathComponent("good_rgb.jpg"))
        try fm.createDirectory(atPath: tmp.path("a"), withIntermediateDirectories: true)
        try fm.createDirectory(atPath: tmp.path("b"), withIntermediateDirectories: true)
        for k in 0..<10 { _ = fm.createFile(atPath: tmp.path("a/good\(k).jpg"), contents: good) }
        let bad = ["truncated.jpg", "corrupt_header.jpg", "png_named.jpg", "text.jpeg", "empty.jpg", "huge.jpg"]
        for name in bad { try fm.copyItem(atPath: corpus.appendingPathComponent(name).path, toPath: tmp.path("b/" + name)) }
        try fm.createSymbolicLink(atPath: tmp.path("b/dangling.jpg"), withDestinationPath: tmp.path("nowhere.jpg"))
        let folder = try ImageFolder(root: tmp.url.path)
        XCTAssertEqual(folder.count, 17)
        final class Lines: @unchecked Sendable { var items: [String] = []; let lock = NSLock()
            func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() } }
        let lines = Lines()
        // Two epochs of one run: every bad file is drawn in both, and logged once per run.
        let both = run(folder, threads: 2, epochs: [0, 1], count: 10, B: 4, log: { lines.add($0) })
        XCTAssertEqual(both.count, 8, "⌊17/4⌋ batches per epoch: both epochs complete")
        let result = Array(both.prefix(4))
        // The bad files the sampler drew: 16 of the 17 files per epoch, so at least 6 of the 7 planted in each.
        let planted = bad + ["dangling.jpg"]
        func badName(_ i: Int) -> String? { planted.first { folder.name(i).hasSuffix("/b/" + $0) } }
        for (epoch, part) in [(0, both.prefix(4)), (1, both.suffix(4))] {
            let drawnBad = part.flatMap(\.4).compactMap(badName)
            XCTAssertGreaterThanOrEqual(drawnBad.count, planted.count - 1, "epoch \(epoch) drew: \(part.flatMap(\.4))")
            XCTAssertEqual(part.reduce(0) { $0 + $1.3 }, drawnBad.count, "epoch \(epoch): every drawn bad sample is counted as replaced, and nothing else")
        }
        XCTAssertTrue(both.allSatisfy { $0.2.allSatisfy { $0 == 0 } }, "every used sample is a good one (class a)")
        // Logged once each over the run: every drawn bad file (a replacement's own draw may log another planted one).
        let logged = lines.items.filter { $0.hasPrefix("data: skipping") }
        let loggedNames = logged.map { line in planted.first { line.contains("/b/" + $0 + ":") } }
        XCTAssertFalse(loggedNames.contains(nil), "only planted files are logged: \(logged)")
        XCTAssertEqual(Set(loggedNames).count, logged.count, "each bad file logged once in the run: \(logged)")
        XCTAssertTrue(Set(both.flatMap(\.4).compactMap(badName)).isSubset(of: Set(loggedNames.compactMap { $0 })), "every drawn bad file is logged: \(logged)")
        // Same run again: the same replacements (deterministic).
        let again = batches(folder, threads: 1, count: 10, B: 4)
        XCTAssertEqual(again.map { $0.0 }, result.map { $0.0 })
    }
}
