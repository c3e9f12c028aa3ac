// `pretrain --init-from`: the backbone of a weights file from elsewhere (here timm-named, under no
// prefix, with a classifier head beside it) becomes the student's and the teacher's backbone,
// while both heads keep the seed's initialisation; a file for another architecture changes nothing.
import ESCheckpoint
import ESModel
import ESObjective
import ESTestSupport
import Foundation
import XCTest

final class InitFromTests: XCTestCase {
    func testBackboneFromATimmFileHeadsFresh() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-initfrom")
        let config = CheckpointFixture.config
        // A timm-named backbone file: values keyed by name, plus timm's classifier head.
        let table = ParameterTable()
        _ = SwinModel(config: config.backbone, table: table)
        let values = table.makeArena()
        for e in table.entries { (values.pointer + e.offset).update(from: FixtureTensors.array(e.key, count: e.count, scale: 0.1), count: e.count) }
        var w = SafeTensorsWriter()
        Weights.add(table, values.pointer, to: &w, map: BackboneKeyMap(naming: .timm))
        var fc = [Float](repeating: 0.5, count: 10 * config.backbone.numFeatures)
        w.add("head.fc.weight", shape: [10, config.backbone.numFeatures], floats: &fc)
        try w.write(to: tmp.path("timm.safetensors"))

        let model = EsViT(config: config, seed: 3), fresh = EsViT(config: config, seed: 3)
        let lines = try model.initializeBackbone(from: tmp.path("timm.safetensors"), which: "teacher")
        guard lines.count == 2 else { return XCTFail("expected the loaded line and the skipped head: \(lines)") }
        XCTAssertTrue(lines[0].contains("(no prefix, timm names); the heads start fresh"), lines[0])
        XCTAssertTrue(lines[1].contains("skipped (1): head.fc.weight"), lines[1])
        for e in model.table.entries {
            let s = Array(UnsafeBufferPointer(start: model.student.pointer + e.offset, count: e.count))
            let t = Array(UnsafeBufferPointer(start: model.teacher.pointer + e.offset, count: e.count))
            XCTAssertEqual(s, t, e.key)
            if e.key.hasPrefix(CheckpointTensors.backbone) {
                XCTAssertEqual(s, FixtureTensors.array(String(e.key.dropFirst(CheckpointTensors.backbone.count)), count: e.count, scale: 0.1), e.key)
            } else {
                XCTAssertEqual(s, Array(UnsafeBufferPointer(start: fresh.student.pointer + e.offset, count: e.count)), e.key)
            }
        }
        // Another architecture: refused, listing the mismatch, and nothing is modified.
        var other = config
        other.backbone.embedDim = 24
        let untouched = EsViT(config: other, seed: 3)
        let before = Array(UnsafeBufferPointer(start: untouched.student.pointer, count: untouched.table.totalCount))
        let beforeTeacher = Array(UnsafeBufferPointer(start: untouched.teacher.pointer, count: untouched.table.totalCount))
        XCTAssertThrowsError(try untouched.initializeBackbone(from: tmp.path("timm.safetensors"), which: "teacher")) {
            XCTAssertTrue("\($0)".contains("wrong shape"), "\($0)")
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: untouched.student.pointer, count: untouched.table.totalCount)), before)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: untouched.teacher.pointer, count: untouched.table.totalCount)), beforeTeacher)
    }
}
