// NamedSums, the declared layout of the training step's small all-reduce: fields are laid out
// one after another in declaration order, read and written by name, and reset to zero.
import XCTest
import ESKernels

final class NamedSumsTests: XCTestCase {
    func testFieldsAreContiguousAndAddressedByName() {
        var layout = NamedSums.Layout()
        let v = layout.vector("view center sum", 5), loss = layout.scalar("loss"), r = layout.vector("region", 3)
        XCTAssertEqual([v.offset, loss.offset, r.offset], [0, 5, 6])
        XCTAssertEqual(layout.count, 9)
        XCTAssertEqual(layout.fields.map(\.name), ["view center sum", "loss", "region"])
        let sums = NamedSums(layout)
        XCTAssertEqual((0..<sums.count).map { sums.values[$0] }, [Double](repeating: 0, count: 9), "starts at zero")
        let x: [Double] = [1, 2, 3, 4]
        x.withUnsafeBufferPointer { sums.add($0.baseAddress!, count: 4, to: v) }
        x.withUnsafeBufferPointer { sums.add($0.baseAddress!, count: 4, to: v) }
        sums[loss] += 2.5
        x.withUnsafeBufferPointer { sums.add($0.baseAddress!, count: 3, to: r) }
        XCTAssertEqual(sums.array(v), [2, 4, 6, 8, 0])
        XCTAssertEqual(sums[loss], 2.5)
        XCTAssertEqual(sums.array(r), [1, 2, 3])
        XCTAssertEqual(sums.pointer(r), sums.values + 6)
        sums.reset()
        XCTAssertEqual(sums.array(v) + [sums[loss]] + sums.array(r), [Double](repeating: 0, count: 9))
    }
}
