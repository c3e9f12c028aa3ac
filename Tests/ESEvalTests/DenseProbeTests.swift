// The linear segmentation probe on cases with known answers: mIoU and pixel accuracy of a hand
// confusion matrix; bilinear upsampling of 2×2 logits (align_corners false) to 4×4; cell targets
// by majority with ties to the lower class; a toy set whose tokens encode their cell's class
// (probe → 100 % mIoU and pixel accuracy, one pixel per token) and one whose tokens carry no information (probe →
// background everywhere); and the real extraction on a small random network, final stage alone
// and all three stages concatenated.
import ESData
import ESEval
import ESKernels
import ESModel
import Foundation
import XCTest

final class DenseProbeTests: XCTestCase {
    func testScoresPredictionAndTargets() {
        // truth 0: 3 pixels predicted 0, 1 predicted 1; truth 1: 2 predicted 1; class 2 absent.
        let s = DenseProbe.scores(confusion: [3, 1, 0, 0, 2, 0, 0, 0, 0], classes: 3)
        XCTAssertEqual(s.iou[0]!, 75, accuracy: 1e-12)              // 3 / (3 + 0 + 1)
        XCTAssertEqual(s.iou[1]!, 100.0 * 2 / 3, accuracy: 1e-12)   // 2 / (2 + 1 + 0)
        XCTAssertNil(s.iou[2])
        XCTAssertEqual(s.miou, (75 + 200.0 / 3) / 2, accuracy: 1e-12)
        XCTAssertEqual(s.pixelAccuracy, 100.0 * 5 / 6, accuracy: 1e-12)
        // Left tokens: class 0 logit 1, class 1 logit 0; right tokens the reverse; class 2 is 0.7
        // everywhere. With align_corners false (F.interpolate's default) the inner columns sit a
        // quarter of a cell from their token and keep it: rows [0, 0, 1, 1]. With align_corners
        // true they would sit a third of the way and class 2 would win there: [0, 2, 2, 1].
        let logits: [Float] = [1, 0, 0.7, 0, 1, 0.7, 1, 0, 0.7, 0, 1, 0.7]
        XCTAssertEqual(DenseProbe.predict(logits: logits, side: 2, classes: 3, size: 4), [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1])
        // Cell targets: a 4×4 map in 2×2 cells; the top-right cell is a 2–2 tie between 3 and 1 → 1.
        let labels: [UInt8] = [2, 2, 3, 1,
                               2, 0, 1, 3,
                               0, 0, 4, 4,
                               0, 5, 4, 5]
        let d = DenseData(tokens: FloatBuffer(count: 4), labels: labels, count: 1, side: 2, dim: 1, size: 4)
        XCTAssertEqual(d.cellTargets(classes: 6), [2, 1, 0, 4])
    }

    /// `count` toy scenes of side² cells, each cell one class (0…K-1) over its size/side pixels;
    /// tokens are one-hot codes of the cell's class (plus noise) when `informative`, else noise.
    func toy(count: Int, side: Int, size: Int, classes K: Int, informative: Bool, seed: UInt64) -> DenseData {
        var rng = KeyedRandom(seed, 0x70)
        let D = 8, L = side * side
        let tokens = FloatBuffer(count: count * L * D)
        var labels = [UInt8](repeating: 0, count: count * size * size)
        for i in 0..<count {
            for t in 0..<L {
                let cls = rng.uniform() < 0.5 ? 0 : 1 + Int(rng.next() % UInt64(K - 1))   // half background, as in the scenes
                for k in 0..<D { tokens[(i * L + t) * D + k] = (informative && k == cls ? 1 : 0) + Float(0.05 * rng.normal()) }
                let (r, c) = (t / side, t % side)
                for y in (r * size / side)..<((r + 1) * size / side) { for x in (c * size / side)..<((c + 1) * size / side) {
                    labels[i * size * size + y * size + x] = UInt8(cls)
                } }
            }
        }
        return DenseData(tokens: tokens, labels: labels, count: count, side: side, dim: D, size: size)
    }

    func testToyProbesWithKnownAnswers() {
        let K = 5
        // One pixel per token (size = side), so that upsampling is the identity and the answer is exact.
        let learnt = DenseProbe.run(train: toy(count: 200, side: 3, size: 3, classes: K, informative: true, seed: 1),
                                    test: toy(count: 50, side: 3, size: 3, classes: K, informative: true, seed: 2),
                                    classes: K, lrs: [1], epochs: 20, batch: 64, seed: 0)[0]
        XCTAssertEqual(learnt.scores.miou, 100, accuracy: 1e-9)
        XCTAssertEqual(learnt.scores.pixelAccuracy, 100, accuracy: 1e-9)
        // Tokens without information: the best a linear probe can do is the majority class
        // (background); mIoU = background IoU / 5 classes present in truth.
        let blind = DenseProbe.run(train: toy(count: 200, side: 3, size: 12, classes: K, informative: false, seed: 3),
                                   test: toy(count: 50, side: 3, size: 12, classes: K, informative: false, seed: 4),
                                   classes: K, lrs: [0.01], epochs: 5, batch: 64, seed: 0)[0]
        print("dense toy: informative mIoU \(learnt.scores.miou), blind mIoU \(blind.scores.miou), pixel accuracy \(blind.scores.pixelAccuracy)")
        XCTAssertLessThan(blind.scores.miou, 25)
        XCTAssertEqual(blind.scores.pixelAccuracy, blind.scores.iou[0]!, accuracy: 8, "background everywhere: accuracy ≈ background IoU")
    }

    func testExtractionOnScenes() throws {
        var cfg = SwinConfig.preset("swin_mini")!
        cfg.patchSize = 4; cfg.depths = [1, 1, 1]; cfg.dropPathRate = 0
        let b = EvalBackbone(randomWith: cfg, seed: 1, inputSize: 64)
        let scenes = FashionScenes(items: try FashionMNIST(split: .test))
        let d = DenseData.extract(b, scenes: scenes, count: 5, mean: MultiCropConfig.fashionMean, std: MultiCropConfig.fashionStd, batch: 2)
        XCTAssertEqual(d.side, 4); XCTAssertEqual(d.size, 64); XCTAssertEqual(d.dim, 192)
        XCTAssertEqual(Array(d.labels[(3 * 64 * 64)..<(4 * 64 * 64)]), scenes.scene(3).labels)
        for r in 0..<(5 * 16) { XCTAssertEqual(dot(d.tokens.pointer + r * 192, d.tokens.pointer + r * 192, 192), 1, accuracy: 1e-5) }
        // Batching changes only the GEMMs' blocking: unit vectors agree to float rounding (T121).
        let e = DenseData.extract(b, scenes: scenes, count: 5, mean: MultiCropConfig.fashionMean, std: MultiCropConfig.fashionStd, batch: 5)
        let diff = (0..<(5 * 16 * 192)).map { abs(d.tokens[$0] - e.tokens[$0]) }.max()!
        print("dense extraction, batch 2 vs 5: max |Δ| \(diff)")
        XCTAssertLessThan(diff, 1e-5)
        // All three stages at the finest grid (16×16 cells of 48 + 96 + 192): the final slice is
        // the final token of the 4×4 cell that covers the cell (the same batches as `e`, so
        // bit-equal); the earlier slices are the stage outputs a training workspace keeps apart
        // (the inference workspace reuses one stream buffer), normalised, over the cells they cover.
        let m = DenseData.extract(b, scenes: scenes, count: 5, mean: MultiCropConfig.fashionMean, std: MultiCropConfig.fashionStd, batch: 5, stages: 3)
        XCTAssertEqual(m.side, 16); XCTAssertEqual(m.dim, 336); XCTAssertEqual(m.labels, d.labels)
        let ws = SwinWorkspace(model: b.model, batch: 5, height: 64, width: 64, training: true)
        let x = FloatBuffer(count: 5 * 3 * 64 * 64)
        for i in 0..<5 { MultiCrop.normalize(scenes.scene(i).image, mean: MultiCropConfig.fashionMean, std: MultiCropConfig.fashionStd, into: x.pointer + i * 3 * 64 * 64) }
        b.model.forward(params: b.params.pointer, image: x.pointer, workspace: ws)
        var worst: Float = 0, finalDiffers = 0
        for i in 0..<5 {
            for t in 0..<256 {
                let row = m.tokens.pointer + (i * 256 + t) * 336, (r, c) = (t / 16, t % 16)
                let final = e.tokens.pointer + (i * 16 + (r / 4) * 4 + c / 4) * 192
                for j in 0..<192 where row[144 + j] != final[j] { finalDiffers += 1 }
                for (block, side, offset, n) in [(0, 16, 0, 48), (1, 8, 48, 96)] {
                    let src = ws.blocks[block].xOut + (i * side * side + (r * side / 16) * side + c * side / 16) * n
                    let norm = dot(src, src, n).squareRoot()
                    for j in 0..<n { worst = max(worst, abs(row[offset + j] - src[j] / norm)) }
                }
            }
        }
        print("dense extraction, stages 3 against a training workspace's stage outputs: max |Δ| \(worst)")
        XCTAssertLessThan(worst, 1e-5)
        XCTAssertEqual(finalDiffers, 0, "the final slice is the final-stage extraction of the same batch")
    }
}
