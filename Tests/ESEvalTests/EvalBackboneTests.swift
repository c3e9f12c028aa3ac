// Evaluation opens training checkpoints through the checkpoint format alone (ESEval does not
// depend on the training model): the teacher's or the student's backbone is loaded with the
// architecture and input size of the checkpoint's configuration; a file of another format is
// not taken for a training checkpoint, and a checkpoint whose configuration disagrees with its
// tensors is refused.
import ESCheckpoint
import ESEval
import ESTestSupport
import Foundation
import XCTest

final class EvalBackboneTests: XCTestCase {
    func testTheTeacherAndTheStudentOfATrainingCheckpoint() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-evalbackbone")
        let path = tmp.path("c.safetensors")
        try CheckpointFixture.write(to: path)
        for which in EvalNetwork.allCases {
            let b = try EvalBackbone(path: path, which: which)
            var expected = CheckpointFixture.config.backbone
            expected.dropPathRate = 0
            XCTAssertEqual(b.config, expected)
            XCTAssertEqual(b.inputSize, CheckpointFixture.config.globalSize)
            XCTAssertEqual(b.origin, "\(which) of training checkpoint \(path)")
            for e in b.table.entries {
                let stored = CheckpointFixture.values(which.rawValue + "." + e.key, count: e.count)   // e.key is "backbone.…"
                XCTAssertEqual(Array(UnsafeBufferPointer(start: b.params.pointer + e.offset, count: e.count)), stored, e.key)
            }
        }
        XCTAssertEqual(try EvalBackbone(path: path, inputSize: 48).inputSize, 48)
        XCTAssertNil(EvalNetwork(argument: "ema"))   // --which ema is refused by the parser, listing the choices
    }

    func testOtherFormatsAndAlteredConfigurations() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-evalbackbone-bad")
        // Another format string: a backbone-only file to eval, which needs --arch.
        try CheckpointFixture.write(to: tmp.path("foreign.safetensors"), metadata: ["format": "other-tool"])
        XCTAssertThrowsError(try EvalBackbone(path: tmp.path("foreign.safetensors"))) {
            XCTAssertTrue("\($0)".contains("is not an esvit training checkpoint; give --arch for a weights file"), "\($0)")
        }
        let b = try EvalBackbone(path: tmp.path("foreign.safetensors"), arch: CheckpointFixture.config.backbone)
        XCTAssertTrue(b.origin.contains("(keys under 'teacher.backbone.', official names)"), b.origin)
        // A configuration record for another backbone than the tensors hold.
        var c = CheckpointFixture.config
        c.backbone.depths = [2, 2, 4]
        try CheckpointFixture.write(to: tmp.path("altered.safetensors"), metadata: ["config": String(decoding: try JSONEncoder().encode(c), as: UTF8.self)])
        XCTAssertThrowsError(try EvalBackbone(path: tmp.path("altered.safetensors"))) {
            XCTAssertTrue("\($0)".contains("its configuration metadata disagrees with its tensors"), "\($0)")
        }
        // A format version this build does not read.
        try CheckpointFixture.write(to: tmp.path("future.safetensors"), metadata: ["version": "99"])
        XCTAssertThrowsError(try EvalBackbone(path: tmp.path("future.safetensors"))) {
            XCTAssertTrue("\($0)".contains("checkpoint version 99 is not supported (this build reads 1)"), "\($0)")
        }
        try CheckpointFixture.write(to: tmp.path("damaged.safetensors"), metadata: ["config": "{"])
        XCTAssertThrowsError(try EvalBackbone(path: tmp.path("damaged.safetensors"))) {
            XCTAssertEqual("\($0)", "\(tmp.path("damaged.safetensors")): the checkpoint's configuration metadata is missing or damaged")
        }
    }
}
