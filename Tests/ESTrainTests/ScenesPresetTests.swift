// The Fashion-MNIST scenes presets: 64 px global and 32 px local crops (4×4 and 2×2 final tokens
// with patch 4), the two arms differing only in the region loss, the command line's --dataset
// winning over a preset's; and the periodic k-NN of a scenes run measuring what eval-knn
// measures (single items on the canvas, both splits), not the training scenes.
@testable import ESTrain
import ESData
import Foundation
import XCTest

final class ScenesPresetTests: XCTestCase {
    func config(_ args: [String]) throws -> PretrainConfig {
        try PretrainOptions.parse(args + ["--output-dir", "x", "--data-path", NSTemporaryDirectory()]).resolved()
    }

    func testScenesPresetsAndTheirEvaluation() throws {
        let on = try config(["--preset", "fs-30m"]), off = try config(["--preset", "fs-30m-noregion"])
        XCTAssertEqual(on.dataset, .fashionScenes)
        XCTAssertEqual(on.crops.globalSize, 64); XCTAssertEqual(on.crops.localSize, 32); XCTAssertEqual(on.backbone.patchSize, 4)
        XCTAssertEqual(on.backbone.constructSize, 64)
        XCTAssertTrue(on.useDensePrediction); XCTAssertFalse(off.useDensePrediction)
        var same = off
        same.useDensePrediction = true; same.preset = on.preset
        XCTAssertEqual(same, on, "the arms differ in the region loss alone")
        XCTAssertEqual(try config(["--preset", "fs-quick", "--dataset", "fashion-mnist"]).dataset, .fashionMNIST)

        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultRoot) else { throw XCTSkip("dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)") }
        var c = on
        c.dataPath = FashionMNIST.defaultRoot; c.evalEveryIters = 100
        let training = try c.dataset.trainingImages(at: c.dataPath)
        let splits = try XCTUnwrap(try Pretraining.evaluationSplits(c, training: training))
        XCTAssertTrue(splits.train is FashionItems && splits.test is FashionItems)
        XCTAssertEqual(splits.test.count, 10000)
        XCTAssertTrue(splits.regions is FashionScenes, "correspondence on the test scenes")
        XCTAssertEqual(on.evalCorrespondenceLimit, 1000)
    }
}
