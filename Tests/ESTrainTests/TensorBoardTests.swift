// TensorBoard event files: the bytes the real SummaryWriter writes (fixture from
// tools/reference/make_tensorboard_fixture.py), read back; CRC-32C; corrupt and cut files;
// the writer's resume rule (no step written twice, the axis continues); the log's tags.
@testable import ESTrain
import ESTestSupport
import Foundation
import XCTest

final class TensorBoardTests: XCTestCase {
    struct Manifest: Decodable {
        struct Scalar: Decodable { let tag: String; let step: Int64; let wall_time: Double; let float32_bits: String }
        let header_wall_time: Double
        let scalars: [Scalar]
    }

    func fixture() throws -> (bytes: [UInt8], events: [EventFile.Event]) {
        let dir = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("tensorboard")
        let bytes = Array(try Data(contentsOf: dir.appendingPathComponent("events.bin")))
        let m = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: dir.appendingPathComponent("events.json")))
        var events = [EventFile.Event(wallTime: m.header_wall_time, fileVersion: EventFile.version,
                                      writer: "tensorboard.summary.writer.event_file_writer")]
        for s in m.scalars {
            let bits = try XCTUnwrap(UInt32(s.float32_bits, radix: 16))
            events.append(EventFile.Event(wallTime: s.wall_time, step: s.step, scalars: [(s.tag, Float(bitPattern: bits))]))
        }
        return (bytes, events)
    }

    func testCRC32CIsCastagnolis() {
        XCTAssertEqual(EventFile.crc32c(Array("123456789".utf8)), 0xE306_9283)   // the standard check value
        XCTAssertEqual(EventFile.crc32c([UInt8]()), 0)
    }

    func testWritesTheBytesTensorBoardsOwnWriterWrites() throws {
        let (bytes, events) = try fixture()
        let mine = events.flatMap { EventFile.record(EventFile.encode($0)) }
        XCTAssertEqual(mine.count, bytes.count)
        XCTAssertEqual(mine, bytes, "first differing byte: \(zip(mine, bytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
    }

    func testReadsTensorBoardsFile() throws {
        let (bytes, events) = try fixture()
        XCTAssertEqual(try EventFile.read(bytes), events)
    }

    func testACorruptRecordIsRefusedAndACutTailIsDropped() throws {
        let (bytes, events) = try fixture()
        var bad = bytes
        bad[bytes.count - 10] ^= 0x01
        XCTAssertThrowsError(try EventFile.read(bad))
        XCTAssertEqual(try EventFile.read(Array(bytes.dropLast(3))), Array(events.dropLast()))
    }

    func testTagsGroupTheLogFieldsAndLeaveCountsOut() {
        XCTAssertEqual(TensorBoardLog.tag("loss_region"), "loss/region")
        XCTAssertEqual(TensorBoardLog.tag("teacher_temp"), "schedule/teacher_temp")
        XCTAssertEqual(TensorBoardLog.tag("teacher_sample_entropy_view"), "teacher/sample_entropy_view")
        XCTAssertEqual(TensorBoardLog.tag("kl_region"), "teacher/kl_region")
        XCTAssertEqual(TensorBoardLog.tag("img_per_s"), "speed/img_per_s")
        XCTAssertEqual(TensorBoardLog.tag("corr_acc"), "eval/correspondence_acc")
        XCTAssertNil(TensorBoardLog.tag("iteration"))
        XCTAssertNil(TensorBoardLog.tag("knn_test_images"))
    }

    /// Every scalar of every event file in `dir`: (file index in name order, tag, step, value).
    static func scalars(_ dir: String) throws -> [(file: Int, tag: String, step: Int64, value: Float)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("events.out.tfevents.") }.sorted()
        return try names.enumerated().flatMap { i, name in
            try EventFile.read(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))).flatMap { e in
                e.scalars.map { (i, $0.tag, e.step, $0.value) }
            }
        }
    }

    func testAResumedLogContinuesTheStepAxisWithoutRepeatingAStep() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-tb")
        var clock = 1_765_000_000.0
        let tick = { () -> Double in clock += 1; return clock }
        do {   // a run that logged to step 30 and died; its checkpoint was at 20
            let first = TensorBoardLog(dir: tmp.path(""), resumedAt: 0, wallClock: tick)
            for s in 0...30 { first.write(step: s, fields: ["iteration": s, "loss": Double(s), "knn_k": 20]) }
            first.add("eval/knn_top1", 40, step: 30)
            XCTAssertNil(first.failure)
        }
        let second = TensorBoardLog(dir: tmp.path(""), resumedAt: 20, wallClock: tick)
        for s in 21...40 { second.write(step: s, fields: ["iteration": s, "loss": Double(s) + 0.5]) }
        second.add("eval/knn_top1", 50, step: 30)
        var all = try Self.scalars(tmp.path(""))
        XCTAssertEqual(Set(all.map(\.file)), [0, 1], "one file per process start")
        let loss = all.filter { $0.tag == "loss/total" }
        XCTAssertEqual(loss.map(\.step), (0...40).map(Int64.init), "every step once, in order")
        XCTAssertEqual(loss.filter { $0.file == 0 }.last?.step, 20, "the first file is cut back to its checkpoint")
        XCTAssertEqual(loss.filter { $0.file == 1 }.first?.step, 21, "the resumed file continues after it")
        XCTAssertEqual(loss.filter { $0.step > 20 }.map(\.value), (21...40).map { Float($0) + 0.5 }, "after the checkpoint, this run's values")
        XCTAssertEqual(all.filter { $0.tag == "eval/knn_top1" }.map(\.value), [50])
        XCTAssertFalse(all.contains { $0.tag.contains("knn_k") })
        // A fresh run (from iteration 0) in the same folder: earlier scalars go, its own stay.
        let fresh = TensorBoardLog(dir: tmp.path(""), resumedAt: 0, wallClock: tick)
        fresh.write(step: 0, fields: ["loss": 1.0])
        all = try Self.scalars(tmp.path(""))
        XCTAssertEqual(all.map(\.step), [0])
        XCTAssertEqual(all.map(\.value), [1])
        // A file that cannot be read is left as it is.
        let junk = tmp.path("events.out.tfevents.0000000001.x.1.0")
        try Data([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]).write(to: URL(fileURLWithPath: junk))
        TensorBoardLog.cut(junk, after: 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: junk)).count, 13)
    }

    func testAHugeLengthFieldIsRefusedNotTrapped() throws {
        // A record whose length bytes claim 2^63 + 1 bytes, with a matching length CRC.
        let length: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0x80]
        let bytes = length + EventFile.littleEndian(EventFile.maskedCRC(length)) + [0, 0, 0, 0]
        XCTAssertEqual(try EventFile.read(bytes), [], "a length past the end is a cut tail")
        // A message whose length-delimited field claims more bytes than exist.
        var m: [UInt8] = []
        EventFile.key(3, wire: 2, &m); EventFile.varint(UInt64.max, &m)
        XCTAssertThrowsError(try EventFile.read(EventFile.record(m)))
    }
}
