// Attention pictures: every head's map of the query is a distribution over the tokens of the
// query's window (sums to 1; for swin_mini's last stage one window covers the 4×4 grid), heads are
// ordered by entropy, the 60 %-mass set is the smallest such set, and the command writes a JPEG of
// the documented layout.
import ESData
import ESEval
import ESKernels
import ESModel
import ESTestSupport
import Foundation
import XCTest

final class AttentionTests: XCTestCase {
    func testMapsAreDistributionsOrderedByEntropy() throws {
        let fm = try FashionMNIST.orSkip(.test)
        let bb = EvalBackbone(randomWith: SwinConfig.preset("swin_mini")!, seed: 2, inputSize: 32)
        let (view, input) = AttentionView.lastBlock(bb, image: try fm.load(3, minShortSide: 0), mean: MultiCropConfig.fashionMean,
                                                    std: MultiCropConfig.fashionStd, query: (1, 2))
        XCTAssertEqual(view.gridHeight, 4); XCTAssertEqual(view.gridWidth, 4); XCTAssertEqual(view.query, 6)
        XCTAssertEqual(view.maps.count, 12)
        for m in view.maps { XCTAssertEqual(m.reduce(0, +), 1, accuracy: 1e-5) }
        let e = view.order.map { view.entropy[$0] }
        XCTAssertEqual(e, e.sorted())
        XCTAssertEqual(input.width, 32)
        // The maps are the last block's attention (a training workspace keeps every block's).
        let ws = SwinWorkspace(model: bb.model, batch: 1, height: 32, width: 32, training: true)
        let x = FloatBuffer(count: 3 * 32 * 32)
        EvalTransform.apply(try fm.load(3, minShortSide: 0), size: 32, mean: MultiCropConfig.fashionMean, std: MultiCropConfig.fashionStd, into: x.pointer)
        bb.model.forward(params: bb.params.pointer, image: x.pointer, workspace: ws)
        let last = ws.blocks.last!, g = last.geometry, N = g.tokensPerWindow
        XCTAssertEqual(g.windowsPerImage, 1)
        let j = g.tokenMap.firstIndex(of: 6)!
        for h in 0..<12 { for k in 0..<N {
            XCTAssertEqual(view.maps[h][Int(g.tokenMap[k])], last.probs[(h * N + j) * N + k], accuracy: 1e-6)
        } }
        // Mass set: 0.5 + 0.2 reaches 60 %; 0.5 alone does not.
        XCTAssertEqual(AttentionView.massMask([0.1, 0.5, 0.2, 0.2], fraction: 0.6), [false, true, true, false])
        XCTAssertEqual(AttentionView.massMask([0.1, 0.5, 0.2, 0.2], fraction: 0.5), [false, true, false, false])
    }

    func testCommandWritesTheTiledPictureAsJPEGOrPNG() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultRoot) else { throw XCTSkip("dataset-fashion-mnist is not installed") }
        let tmp = try TemporaryDirectory(prefix: "esvit-attn")
        var w = SafeTensorsWriter()
        let bb = EvalBackbone(randomWith: SwinConfig.preset("swin_mini")!, seed: 1, inputSize: 32)
        Weights.add(bb.table, bb.params.pointer, to: &w, tablePrefix: "backbone.", filePrefix: "")
        try w.write(to: tmp.path("b.safetensors"))
        let (c, o) = try TestProcess.run(TestProcess.esvit, ["visualize", "attention", "--checkpoint", tmp.path("b.safetensors"), "--arch", "swin_mini",
                                                             "--fashion-index", "5", "--tile", "64", "--out", tmp.path("a.jpg")])
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("12 heads, query (2, 2) on the 4×4 grid") && o.contains("heads by entropy"), o)
        // 13 tiles of 64 px in rows of 7 with 4 px gaps: 7·64 + 8·4 = 480 by 2·64 + 3·4 = 140.
        let (img, _) = try JPEG.decode(file: tmp.path("a.jpg"))
        XCTAssertEqual(img.width, 480); XCTAssertEqual(img.height, 140)
        let (c2, o2) = try TestProcess.run(TestProcess.esvit, ["visualize", "attention", "--checkpoint", tmp.path("b.safetensors"), "--arch", "swin_mini",
                                                               "--fashion-index", "5", "--tile", "64", "--out", tmp.path("a.png")])
        XCTAssertEqual(c2, 0, o2)
        // The same picture as PNG: signature and IHDR size (the encoder's pixels are checked in CurvesTests).
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: tmp.path("a.png"))))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func be32(_ o: Int) -> Int { png[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(be32(16), 480); XCTAssertEqual(be32(20), 140)
        let (c4, o4) = try TestProcess.run(TestProcess.esvit, ["visualize", "attention", "--checkpoint", tmp.path("b.safetensors"), "--arch", "swin_mini",
                                                               "--fashion-index", "5", "--out", tmp.path("a.bmp")])
        XCTAssertEqual(c4, 64, o4)
        XCTAssertTrue(o4.contains("--out must end in .png, .jpg or .jpeg"), o4)
        // Correspondence: two 96 px views with 24 px margins → 3·24 + 2·96 = 264 by 2·24 + 96 = 144; 10 pairs listed.
        let (c3, o3) = try TestProcess.run(TestProcess.esvit, ["visualize", "correspondence", "--checkpoint", tmp.path("b.safetensors"), "--arch",
                                                               "swin_mini", "--fashion-index", "5", "--tile", "96", "--out", tmp.path("c.jpg")])
        XCTAssertEqual(c3, 0, o3)
        let pairs = o3.split(separator: "\n").first { $0.contains("top pairs") }.map { $0.components(separatedBy: "→").count - 2 }   // minus the header's arrow
        XCTAssertEqual(pairs, 10, o3)
        let (cimg, _) = try JPEG.decode(file: tmp.path("c.jpg"))
        XCTAssertEqual(cimg.width, 264); XCTAssertEqual(cimg.height, 144)
    }

    func testCorrespondenceMatchesAreArgmaxesSortedBySimilarity() throws {
        let fm = try FashionMNIST.orSkip(.test)
        let bb = EvalBackbone(randomWith: SwinConfig.preset("swin_mini")!, seed: 2, inputSize: 32)
        let c = Correspondence.compute(bb, image: try fm.load(7, minShortSide: 0), mean: MultiCropConfig.fashionMean,
                                       std: MultiCropConfig.fashionStd, seed: 4)
        XCTAssertEqual(c.matches.count, 16)
        XCTAssertEqual(Set(c.matches.map(\.from)).count, 16, "one match per view-1 token")
        let s = c.matches.map(\.similarity)
        XCTAssertEqual(s, s.sorted(by: >))
        XCTAssertEqual(c.views.0.width, 32); XCTAssertEqual(c.views.1.width, 32)
        // Every match against a brute-force argmax in Double over the same token maps.
        let (maps, L, C) = Correspondence.tokenMaps(bb, c.views.0, c.views.1, mean: MultiCropConfig.fashionMean, std: MultiCropConfig.fashionStd)
        XCTAssertEqual(L, 16)
        assertArgmaxes(c.matches, maps: maps, tokens: L, dim: C)
    }

    /// A planted correspondence: view 2 is a permutation of view 1's tokens plus small noise, so
    /// the argmax of every token is known (its image under the permutation) with a wide margin.
    func testMatchFindsAPlantedPermutation() {
        let L = 16, C = 24
        var rng = KeyedRandom(11, 0)
        let a = (0..<(L * C)).map { _ in Float(rng.normal()) }
        let perm = Array((0..<L).reversed().map { ($0 * 5) % L })
        var b = [Float](repeating: 0, count: L * C)
        for i in 0..<L { for k in 0..<C { b[perm[i] * C + k] = a[i * C + k] + 0.05 * Float(rng.normal()) } }
        let m = Correspondence.match(a, b, tokens: L, dim: C)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: m.map { ($0.from, $0.to) }), Dictionary(uniqueKeysWithValues: (0..<L).map { ($0, perm[$0]) }))
        assertArgmaxes(m, maps: a + b, tokens: L, dim: C)
    }

    /// Each match's `to` is the argmax of the cosine over view 2's tokens and its similarity is
    /// that cosine, both against Double. Float's error on a cosine of unit vectors is at most
    /// about (2C + 4)·u (normalising both, then a C-term dot product; u = 2⁻²⁴): 2.3e-5 for
    /// C = 192 (swin_mini's final dim); ε = 4C·u = 4.6e-5 leaves a factor 2. A near-tie within 2ε
    /// may go either way, so the rows whose best and second-best cosines are further apart than
    /// 2ε (where the check is strict) are counted and printed.
    func assertArgmaxes(_ matches: [Correspondence.Match], maps: [Float], tokens L: Int, dim C: Int, line: UInt = #line) {
        let eps = 4 * Double(C) * 0x1p-24
        func cosine(_ i: Int, _ j: Int) -> Double {
            var ab = 0.0, aa = 0.0, bb = 0.0
            for k in 0..<C {
                let x = Double(maps[i * C + k]), y = Double(maps[(L + j) * C + k])
                ab += x * y; aa += x * x; bb += y * y
            }
            return ab / (aa.squareRoot() * bb.squareRoot())
        }
        XCTAssertEqual(matches.count, L, line: line)
        var decisive = 0
        for m in matches {
            let all = (0..<L).map { cosine(m.from, $0) }.sorted(by: >), best = all[0]
            if all.count < 2 || all[0] - all[1] > 2 * eps { decisive += 1 }
            XCTAssertGreaterThanOrEqual(cosine(m.from, m.to), best - 2 * eps, "token \(m.from) → \(m.to): not the argmax (cosine \(cosine(m.from, m.to)), best \(best))", line: line)
            XCTAssertEqual(Double(m.similarity), cosine(m.from, m.to), accuracy: eps, "token \(m.from): similarity", line: line)
        }
        print("argmax check: \(decisive) of \(matches.count) rows with a margin above 2ε = \(2 * eps)")
    }
}
