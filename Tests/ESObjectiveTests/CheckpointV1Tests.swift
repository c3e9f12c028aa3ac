// The checkpoint file, pinned byte for byte. Fixtures/checkpoint-v1.safetensors (format "1") was
// written by this project's writer at commit 29db272: EsViT(config: Self.config, seed: 11) after
// one step on the FixtureTensors crops "v1.g"/"v1.l" (iteration 0 of CheckpointTests' schedule),
// saved with Self.info and Self.extra. Loading it into a model with other values and saving again
// must reproduce the file exactly. A change to the reader, the writer, the tensor names or their
// order, the metadata records or their JSON breaks this test, and with it every checkpoint users
// already hold. No arithmetic is involved, so the bytes do not depend on the CPU.
import ESCheckpoint
import ESModel
import ESObjective
import ESTestSupport
import Foundation
import XCTest

final class CheckpointV1Tests: XCTestCase {
    static let config = EsViTConfig(
        backbone: SwinConfig(patchSize: 2, inChans: 3, embedDim: 8, depths: [1, 1], numHeads: [1, 2], windowSize: 2,
                             constructSize: 8, dropPathRate: 0),
        head: HeadConfig(hidden: 8, bottleneck: 4, outDim: 8, normLastLayer: false),
        useDense: true, batch: 2, localCrops: 2, globalSize: 8, localSize: 4)
    static let info = CheckpointInfo(epoch: 0, iteration: 1, globalSamplePosition: 2, seed: 11, worldSize: 1, samplesIntoEpoch: 2)
    /// A stand-in for the trainer's run record: the fields the loader checks against `config`, and one more.
    struct Run: Codable {
        struct Crops: Codable { var globalSize: Int, localSize: Int, localCrops: Int }
        var backbone: SwinConfig, head: HeadConfig, useDensePrediction: Bool, crops: Crops, lr: Double
    }
    static let extra = CheckpointMetadata.run(
        configuration: Run(backbone: config.backbone, head: config.head, useDensePrediction: true,
                           crops: .init(globalSize: 8, localSize: 4, localCrops: 2), lr: 0.5),
        layout: ["worldSize": 1])

    func fixturePath() throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("checkpoint-v1.safetensors").path
    }

    func testAVersionOneFileLoadsAndSavesBackByteForByte() throws {
        let path = try fixturePath()
        let model = EsViT(config: Self.config, seed: 99)
        let before = Array(UnsafeBufferPointer(start: model.student.pointer, count: model.student.count))
        XCTAssertEqual(try model.loadCheckpoint(from: path), Self.info)
        XCTAssertFalse(Array(UnsafeBufferPointer(start: model.student.pointer, count: model.student.count)) == before,
                       "the loaded student replaces the seed-99 initialisation")
        // One AdamW step for every tensor but the two frozen last layers (weight_g and weight_v of each head).
        XCTAssertEqual(model.optimizer.steps.filter { $0 == 0 }.count, 4)
        XCTAssertEqual(model.optimizer.steps.filter { $0 == 1 }.count, model.table.entries.count - 4)
        let tmp = try TemporaryDirectory(prefix: "esvit-v1")
        try model.saveCheckpoint(to: tmp.path("again.safetensors"), info: Self.info, extraMetadata: Self.extra)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let again = try Data(contentsOf: URL(fileURLWithPath: tmp.path("again.safetensors")))
        XCTAssertEqual(again.count, original.count)
        XCTAssertTrue(again == original, "a version-1 checkpoint, loaded and saved again, is the same file")
        let file = try CheckpointFile(path: path)
        XCTAssertEqual(try file.modelConfig(), Self.config)
        XCTAssertEqual(file.metadata["pretrain_config"], Self.extra["pretrain_config"])
    }
}
