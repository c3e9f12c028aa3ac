// The declared-buffer arena: regions never overlap, every region is 64-byte aligned, the total is
// the regions plus alignment padding, shared entries take the largest size and per-instance
// entries get their own region, and the memory report has a row for every buffer. Checked on a
// hand-written table and on Swin workspaces (training and inference, even and odd grids), where
// inference must share one set of block buffers and one residual stream, and training its
// forward-only temporaries; shared and scratch regions (the transient part) follow the kept ones.
import XCTest
import ESKernels
@testable import ESModel

final class BufferArenaTests: XCTestCase {
    func assertWellFormed(_ arena: BufferArena, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let a = BufferLayout.alignment, layout = arena.layout
        XCTAssertEqual(Int(bitPattern: arena.base) % a, 0, "\(what): arena base", file: file, line: line)
        let sorted = layout.regions.sorted { $0.offset < $1.offset }
        for (r, next) in zip(sorted, sorted.dropFirst()) {
            XCTAssertLessThanOrEqual(r.offset + r.bytes, next.offset, "\(what): \(r.entry.name) overlaps \(next.entry.name)", file: file, line: line)
        }
        for r in layout.regions {
            XCTAssertEqual(r.offset % a, 0, "\(what): \(r.entry.name) at \(r.offset) is not aligned", file: file, line: line)
            XCTAssertEqual(r.bytes, r.entry.bytes, "\(what): \(r.entry.name)", file: file, line: line)
            XCTAssertEqual(r.offset >= layout.transientStart, r.entry.lifetime.transient,
                           "\(what): \(r.entry.name) (\(r.entry.lifetime)) is on the wrong side of the transient part", file: file, line: line)
        }
        if let last = sorted.last { XCTAssertLessThanOrEqual(last.offset + last.bytes, layout.totalBytes, file: file, line: line) }
        let padded = layout.regions.reduce(0) { $0 + ($1.bytes + a - 1) / a * a }
        XCTAssertEqual(layout.totalBytes, padded, "\(what): total = regions + alignment padding", file: file, line: line)
        XCTAssertLessThan(layout.totalBytes - layout.regions.reduce(0) { $0 + $1.bytes }, a * max(layout.regions.count, 1), file: file, line: line)
        let rows = Set(layout.report(title: what).split(separator: "\n").dropFirst(2).compactMap { $0.split(separator: " ").first.map(String.init) })
        for r in layout.regions { XCTAssertTrue(rows.contains(r.entry.name), "\(what): the report has no row for \(r.entry.name)", file: file, line: line) }
    }

    func testHandWrittenTable() {
        let arena = BufferArena([
            BufferEntry("a", [3], "(3)", .once),
            BufferEntry("act", [5, 7], "(5, 7)", .perBlock, instance: 0), BufferEntry("act", [2, 7], "(2, 7)", .perBlock, instance: 1),
            BufferEntry("tmp", [10], "(10)", .shared, instance: 0), BufferEntry("tmp", [40], "(40)", .shared, instance: 1),
            BufferEntry("keys", [3], "(3)", .once, elementBytes: 8)])
        assertWellFormed(arena, "hand-written")
        XCTAssertEqual(arena.layout.regions.count, 5)
        XCTAssertEqual(arena.layout.region("tmp", 0).bytes, 160, "a shared region is sized for its largest entry")
        XCTAssertEqual(arena.layout.region("tmp", 0).users, 2)
        XCTAssertEqual(arena.floats("tmp", 0), arena.floats("tmp", 1))
        XCTAssertNotEqual(arena.floats("act", 0), arena.floats("act", 1))
        XCTAssertEqual(arena.layout.region("act", 1).bytes, 56)
        XCTAssertEqual(arena.layout.region("keys").bytes, 24)
        XCTAssertEqual(arena.totalBytes, 64 + 192 + 64 + 192 + 64)
        for r in arena.layout.regions { XCTAssertTrue((0..<r.bytes).allSatisfy { arena.base.load(fromByteOffset: r.offset + $0, as: UInt8.self) == 0 }) }
    }

    func testSwinWorkspaces() {
        let mini = GeneratedModel(SwinConfig.preset("swin_mini")!), tiny = GeneratedModel(tinyFixtureConfig)
        for (name, m, size) in [("swin_mini", mini, 32), ("swin_mini", mini, 18), ("tiny", tiny, 14)] {
            for training in [true, false] {
                let ws = SwinWorkspace(model: m.model, batch: 3, height: size, width: size, training: training)
                let what = "\(name)@\(size) \(training ? "training" : "inference")"
                assertWellFormed(ws.arena, what)
                XCTAssertEqual(ws.bytes, ws.arena.totalBytes)
                let blocks = ws.blocks, merges = ws.merges.compactMap { $0 }
                XCTAssertEqual(blocks.count, m.model.blocks.count)
                for (field, ptr) in [("x1", \BlockActs.x1), ("probs", \.probs), ("hidden", \.hidden), ("drop1", \.drop1)] {
                    XCTAssertEqual(Set(blocks.map { $0[keyPath: ptr] }).count, training ? blocks.count : 1, "\(what): per-block \(field)")
                }
                for (field, ptr) in [("ln1", \BlockActs.ln1), ("proj", \.proj), ("attnTok", \.attnTok), ("mlpOut", \.mlpOut), ("act", \.act)] {
                    XCTAssertEqual(Set(blocks.map { $0[keyPath: ptr] }).count, 1, "\(what): forward-only \(field) is shared")
                }
                let streams = Set([ws.x0] + blocks.map(\.xOut) + merges.map(\.out))
                XCTAssertEqual(streams.count, training ? 1 + blocks.count + merges.count : 1, "\(what): residual stream buffers")
                XCTAssertEqual(blocks[0].xIn, ws.x0)
                XCTAssertEqual(SwinWorkspace.memoryReport(model: m.model, batch: 3, height: size, width: size, training: training),
                               ws.memoryReport(), "\(what): the report without allocating")
            }
        }
    }
}
