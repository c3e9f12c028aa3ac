// Checkpoint integrity: every tensor's CRC-32 is stored in the metadata and verified on load (as
// each tensor is copied, so the file is read once), so a flipped bit in tensor data is refused
// with the tensor's name and the model is left untouched; files without checksums (older
// checkpoints, PyTorch's safetensors) still load, with a note; a configuration record that
// disagrees with the tensors, or with the run's other record, is refused with the disagreement.
import XCTest
import Foundation
import ESCheckpoint
import ESModel
import ESObjective
import ESTestSupport

final class CheckpointIntegrityTests: XCTestCase {
    func saved(_ tmp: TemporaryDirectory, metadata: [String: String] = [:]) throws -> String {
        let path = tmp.path("checkpoint.safetensors")
        try EsViT(config: StepFixtureTests.config, seed: 3)
            .saveCheckpoint(to: path, info: CheckpointInfo(epoch: 0, iteration: 1, globalSamplePosition: 4, seed: 3, worldSize: 1), extraMetadata: metadata)
        return path
    }

    /// Rewrites a safetensors file's metadata in place (tensor data, and so its checksums, untouched).
    func rewriteMetadata(_ path: String, _ change: (inout [String: String]) throws -> Void) throws {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = Int(d.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = try XCTUnwrap(try JSONSerialization.jsonObject(with: d.subdata(in: 8..<(8 + n))) as? [String: Any])
        var meta = try XCTUnwrap(header["__metadata__"] as? [String: String])
        try change(&meta)
        header["__metadata__"] = meta
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        var len = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(json); out.append(d.subdata(in: (8 + n)..<d.count))
        try out.write(to: URL(fileURLWithPath: path))
    }

    func testAFlippedBitInTensorDataIsRefusedNamingTheTensor() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-crc")
        let path = try saved(tmp)
        let file = try SafeTensorsFile(path: path)
        XCTAssertTrue(file.checksummed)
        XCTAssertNil(file.unverifiedNote)
        // One bit in the middle of one teacher tensor.
        let name = try XCTUnwrap(file.tensors.keys.sorted().first { $0.hasPrefix("teacher.backbone.layers.0.blocks.0.mlp.fc1.weight") })
        let t = file.tensors[name]!
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = Int(d.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var bytes = [UInt8](d)
        bytes[8 + headerLength + (t.begin + t.end) / 2] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SafeTensorsFile(path: path)) { error in
            XCTAssertTrue("\(error)".contains("tensor \(name) fails its CRC-32 check"), "\(error)")
        }
        // Loading verifies each tensor as it copies it (the file is read once): the damaged tensor is
        // refused by name there, and the model is left as it was.
        let model = EsViT(config: StepFixtureTests.config, seed: 1)
        let before = Array(UnsafeBufferPointer(start: model.teacher.pointer, count: model.teacher.count))
        XCTAssertThrowsError(try model.loadCheckpoint(from: path)) { error in
            XCTAssertTrue("\(error)".contains("tensor \(name) fails its CRC-32 check"), "\(error)")
        }
        XCTAssertTrue(Array(UnsafeBufferPointer(start: model.teacher.pointer, count: model.teacher.count)) == before, "nothing committed")
        let deferred = try SafeTensorsFile(path: path, checksums: .onCopy)
        XCTAssertNoThrow(try deferred.floats(try XCTUnwrap(file.tensors.keys.first { $0.hasPrefix("student.") })), "an intact tensor copies")
        XCTAssertThrowsError(try deferred.floats(name)) { XCTAssertTrue("\($0)".contains("tensor \(name) fails its CRC-32 check"), "\($0)") }
        XCTAssertThrowsError(try deferred.verifyUnread()) { XCTAssertTrue("\($0)".contains(name), "\($0)") }
    }

    func testFilesWithoutChecksumsLoadWithANote() throws {
        // Written by PyTorch's safetensors (tools/reference): no checksums.
        let fixture = TestProcess.root + "/Tests/ESObjectiveTests/Fixtures/step.safetensors"
        let f = try SafeTensorsFile(path: fixture)
        XCTAssertFalse(f.checksummed)
        XCTAssertTrue(f.unverifiedNote?.contains("has no tensor checksums") == true)
        XCTAssertGreaterThan(try f.floats(f.tensors.keys.sorted()[0]).count, 0)
        // An esvit checkpoint whose checksum record was removed (an older version) loads too.
        let tmp = try TemporaryDirectory(prefix: "esvit-crc-old")
        let path = try saved(tmp)
        try rewriteMetadata(path) { $0[SafeTensorsFile.checksumKey] = nil }
        XCTAssertNoThrow(try EsViT(config: StepFixtureTests.config, seed: 1).loadCheckpoint(from: path))
        // A checksum record that misses a tensor is not "older": the file was altered.
        let path2 = try saved(tmp)
        try rewriteMetadata(path2) { m in
            var crcs = try JSONDecoder().decode([String: UInt32].self, from: Data(m[SafeTensorsFile.checksumKey]!.utf8))
            crcs["loss.center"] = nil
            m[SafeTensorsFile.checksumKey] = String(decoding: try JSONEncoder().encode(crcs), as: UTF8.self)
        }
        XCTAssertThrowsError(try SafeTensorsFile(path: path2)) { XCTAssertTrue("\($0)".contains("tensor loss.center has no stored checksum"), "\($0)") }
    }

    func testAConfigurationThatDisagreesWithTheTensorsIsRefused() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-cfg")
        // The tensors are swin_mini's; the configuration claims swin_tiny.
        let path = try saved(tmp)
        try rewriteMetadata(path) { m in
            var c = try JSONDecoder().decode(EsViTConfig.self, from: Data(m["config"]!.utf8))
            c.backbone = SwinConfig.preset("swin_tiny")!
            c.globalSize = 224
            m["config"] = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
        }
        XCTAssertThrowsError(try CheckpointFile(path: path).checkConsistency()) { error in
            let m = "\(error)"
            XCTAssertTrue(m.contains("configuration metadata disagrees with its tensors") && m.contains("wrong shape"), m)
        }
        // Only the input size altered: the run's own record (pretrain_config) disagrees.
        let run = "{\"arch\":\"swin_mini\",\"crops\":{\"globalSize\":32,\"localSize\":16,\"localCrops\":2},\"useDensePrediction\":true}"
        let tmp2 = try TemporaryDirectory(prefix: "esvit-cfg2")
        let path2 = try saved(tmp2, metadata: ["pretrain_config": run])
        let c0 = try JSONDecoder().decode(EsViTConfig.self, from: Data(try SafeTensorsFile(path: path2).metadata["config"]!.utf8))
        try rewriteMetadata(path2) { m in
            var c = c0
            c.globalSize = 224
            m["config"] = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
            // The run record repeats the model's backbone and heads, as the trainer writes it.
            var r = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.utf8)) as? [String: Any])
            r["backbone"] = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(c0.backbone))
            r["head"] = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(c0.head))
            r["crops"] = ["globalSize": c0.globalSize, "localSize": c0.localSize, "localCrops": c0.localCrops]
            r["useDensePrediction"] = c0.useDense
            m["pretrain_config"] = String(decoding: try JSONSerialization.data(withJSONObject: r), as: UTF8.self)
        }
        XCTAssertThrowsError(try CheckpointFile(path: path2).checkConsistency()) { error in
            XCTAssertTrue("\(error)".contains("config globalSize = 224, pretrain_config crops.globalSize = \(c0.globalSize)"), "\(error)")
        }
    }
}
