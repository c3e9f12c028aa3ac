// The checkpoint format on its own, without the model that trains (a checkpoint written by
// CheckpointFixture): the metadata a training checkpoint carries is exactly the documented set of
// keys; its records read back (configuration, position, step counts) and a run configuration and
// layout of any Codable type round-trip through pretrain_config/layout; a foreign format, another
// version, a configuration that disagrees with the tensors and a different model are refused with
// the messages the loaders show.
import ESCheckpoint
import ESModel
import ESTestSupport
import Foundation
import XCTest

final class CheckpointFileTests: XCTestCase {
    /// A stand-in for the trainer's configuration: the fields the consistency check compares, and one more.
    struct Run: Codable, Equatable {
        struct Crops: Codable, Equatable { var globalSize: Int, localSize: Int, localCrops: Int }
        var backbone: SwinConfig, head: HeadConfig, useDensePrediction: Bool, crops: Crops, lr: Double
    }
    struct Layout: Codable, Equatable { var worldSize: Int, globalBatch: Int }

    let fixture = CheckpointFixture.config
    var run: Run {
        Run(backbone: fixture.backbone, head: fixture.head, useDensePrediction: fixture.useDense,
            crops: .init(globalSize: fixture.globalSize, localSize: fixture.localSize, localCrops: fixture.localCrops), lr: 0.05)
    }

    func testRecordsAndTheRunConfigurationRoundTrip() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-ckfile")
        let path = tmp.path("c.safetensors")
        let layout = Layout(worldSize: 2, globalBatch: 16)
        try CheckpointFixture.write(to: path, metadata: CheckpointMetadata.run(configuration: run, layout: layout))
        let file = try CheckpointFile(path: path)
        XCTAssertEqual(file.metadata.keys.sorted(),
                       ["config", "format", "info", "layout", "optimizer_steps", "pretrain_config", "tensor_crc32", "version"])
        XCTAssertEqual(file.metadata["format"], "esvit-checkpoint")
        XCTAssertEqual(file.metadata["version"], "1")
        XCTAssertTrue(file.isTrainingCheckpoint)
        XCTAssertNoThrow(try file.validate())
        XCTAssertEqual(try file.modelConfig(), fixture)
        let table = ParameterTable()
        _ = EsViTModules(config: fixture, table: table)
        let records = try file.trainingRecords(parameterTensors: table.entries.count)
        XCTAssertEqual(records.config, fixture)
        XCTAssertEqual(records.info, CheckpointFixture.info)
        XCTAssertEqual(records.optimizerSteps, [Int](repeating: CheckpointFixture.steps, count: table.entries.count))
        XCTAssertThrowsError(try file.trainingRecords(parameterTensors: table.entries.count + 1)) {
            XCTAssertTrue("\($0)".contains("checkpoint metadata (config, info, optimizer steps) is missing or damaged"), "\($0)")
        }
        XCTAssertEqual(try file.runConfiguration(Run.self), run)
        XCTAssertEqual(try file.runLayout(Layout.self), layout)
        // Another type than the one stored is an error naming the record; a file without the run's records has none.
        XCTAssertThrowsError(try file.runConfiguration(Layout.self)) { XCTAssertTrue("\($0)".contains("the pretrain_config metadata cannot be read"), "\($0)") }
        try CheckpointFixture.write(to: tmp.path("bare.safetensors"))
        let bare = try CheckpointFile(path: tmp.path("bare.safetensors"))
        XCTAssertNil(try bare.runConfiguration(Run.self))
        XCTAssertNil(try bare.runLayout(Layout.self))
    }

    func testForeignFormatOtherVersionAndOtherModelAreRefused() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-ckfile-bad")
        let foreign = tmp.path("foreign.safetensors"), future = tmp.path("future.safetensors"), good = tmp.path("good.safetensors")
        try CheckpointFixture.write(to: foreign, metadata: ["format": "other-tool"])
        try CheckpointFixture.write(to: future, metadata: ["version": "2"])
        try CheckpointFixture.write(to: good)
        let f = try CheckpointFile(path: foreign)
        XCTAssertFalse(f.isTrainingCheckpoint)
        XCTAssertThrowsError(try f.validate()) { XCTAssertEqual("\($0)", "\(foreign) is not an esvit training checkpoint (format 'other-tool')") }
        XCTAssertThrowsError(try CheckpointFile(path: future).validate()) {
            XCTAssertEqual("\($0)", "\(future): checkpoint version 2 is not supported (this build reads 1)")
        }
        XCTAssertThrowsError(try CheckpointFile.openForLoading(tmp.path("missing.safetensors"))) {
            XCTAssertTrue("\($0)".hasPrefix("cannot use checkpoint: ") && "\($0)".contains("no such file"), "\($0)")
        }
        // Resuming: the model must be the stored one; the per-rank batch may differ.
        let file = try CheckpointFile(path: good)
        var other = fixture
        other.batch = 8
        XCTAssertNoThrow(try file.requireCompatible(fixture, with: other))
        other.head.outDim = 64
        XCTAssertThrowsError(try file.requireCompatible(fixture, with: other)) {
            XCTAssertTrue("\($0)".hasPrefix("\(good) was written for a different configuration: ") && "\($0)".contains("head.outDim: checkpoint 32, now 64"), "\($0)")
        }
        // A configuration record that does not fit the tensors.
        try CheckpointFixture.write(to: tmp.path("altered.safetensors"), metadata: ["config": String(decoding: try JSONEncoder().encode(other), as: UTF8.self)])
        XCTAssertThrowsError(try CheckpointFile(path: tmp.path("altered.safetensors")).validate()) {
            XCTAssertTrue("\($0)".contains("its configuration metadata disagrees with its tensors") && "\($0)".contains("wrong shape"), "\($0)")
        }
    }
}
