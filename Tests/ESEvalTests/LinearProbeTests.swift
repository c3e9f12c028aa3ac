// The linear probe and its features: the probe separates a linearly separable toy set; the
// "last blocks" features are what they claim — the last block through the final LayerNorm and
// averaged is the pooled output (so, normalised, the k-NN feature), and an earlier block's entry
// is the token mean of that block's output as a training workspace stores it.
import ESData
import ESDistributed
import ESEval
import ESKernels
import ESModel
import XCTest

final class LinearProbeTests: XCTestCase {
    func testSeparableToySetIsLearnt() {
        var rng = KeyedRandom(21)
        let D = 12, K = 4
        // Class k: a unit direction e_k plus noise; the margin makes it linearly separable.
        func make(_ n: Int) -> Features {
            let buf = FloatBuffer(count: n * D)
            var labels: [Int32] = []
            for i in 0..<n {
                let k = i % K
                labels.append(Int32(k))
                for d in 0..<D { buf[i * D + d] = Float(0.15 * rng.normal()) + (d == k ? 1 : 0) }
            }
            return Features(values: buf, count: n, dim: D, labels: labels, unreadable: 0)
        }
        let train = make(400), test = make(200)
        var cfg = LinearProbeConfig()
        cfg.epochs = 30; cfg.batch = 32; cfg.baseLR = 8
        let r = LinearProbe.train(train: train, test: test, classes: K, config: cfg)
        XCTAssertEqual(r.best, 100, "best \(r.best), per epoch \(r.perEpoch)")
        XCTAssertEqual(r.last, 100)
        // The classifier at its initialisation (lr ≈ 0) is not already perfect, so training did the work.
        cfg.baseLR = 1e-12
        XCTAssertLessThan(LinearProbe.train(train: train, test: test, classes: K, config: cfg).best, 90)
    }

    func testLastBlockFeaturesAreThePooledOutputAndEarlierBlocksTheirTokenMeans() throws {
        let fm = try FashionMNIST.orSkip(.test)
        let cfg = SwinConfig.preset("swin_mini")!
        let bb = EvalBackbone(randomWith: cfg, seed: 4, inputSize: 32)
        let comm = SingleProcessCommunicator()
        let m = MultiCropConfig.fashionMean, s = MultiCropConfig.fashionStd
        let n = 6
        let knn = FeatureExtractor.extract(bb, source: fm, limit: n, batch: 4, mean: m, std: s, comm: comm, what: "", progress: { _ in })
        let last1 = FeatureExtractor.extract(bb, source: fm, limit: n, batch: 4, mean: m, std: s, comm: comm, what: "", kind: .lastBlocks(1),
                                             progress: { _ in })
        XCTAssertEqual(last1.dim, 192)
        for i in 0..<n {
            let row = (0..<192).map { last1.values[i * 192 + $0] }
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for d in 0..<192 { XCTAssertEqual(row[d] / norm, knn.values[i * 192 + d], accuracy: 1e-6) }
        }
        // All 6 blocks: 48 + 48 + 96 + 96 + 192 + 192; block 2 (stage 1, no LayerNorm) against a training workspace.
        let all = FeatureExtractor.extract(bb, source: fm, limit: n, batch: n, mean: m, std: s, comm: comm, what: "", kind: .lastBlocks(6),
                                           progress: { _ in })
        XCTAssertEqual(all.dim, 672)
        let ws = SwinWorkspace(model: bb.model, batch: n, height: 32, width: 32, training: true)
        let images = FloatBuffer(count: n * 3 * 32 * 32)
        for i in 0..<n { EvalTransform.apply(try fm.load(i, minShortSide: 0), size: 32, mean: m, std: s, into: images.pointer + i * 3 * 32 * 32) }
        bb.model.forward(params: bb.params.pointer, image: images.pointer, workspace: ws)
        let a = ws.blocks[2], L = a.tokens
        for i in 0..<n {
            for c in 0..<96 {
                var mean: Float = 0
                for t in 0..<L { mean += a.xOut[(i * L + t) * 96 + c] }
                XCTAssertEqual(all.values[i * 672 + 96 + c], mean / Float(L), accuracy: 1e-5)
            }
        }
    }
}
