// The test targets' one tolerance assertion: XCTest on top of ESTestSupport's `Comparison`. A
// tensor passes when every element satisfies |got − want| ≤ atol + rtol·|want|; a failure names
// the tensor, its max |Δ| and relative L2 error and the first mismatches. This is its own target
// because ESTestSupport is linked into the esvit executable, which must not link XCTest; only
// test targets depend on ESTestAssertions.
import XCTest
import ESTestSupport

/// Asserts `got[0..<want.count]` is within atol + rtol·|want| of `want`, element by element.
@discardableResult
public func assertClose(_ name: String, got: UnsafePointer<Float>, want: [Float], atol: Double, rtol: Double = 0,
                        file: StaticString = #filePath, line: UInt = #line) -> Comparison {
    let c = want.withUnsafeBufferPointer { Comparison(name, got: got, want: $0.baseAddress!, count: want.count, atol: atol, rtol: rtol) }
    XCTAssertTrue(c.ok, c.description, file: file, line: line)
    return c
}

/// Asserts two equally long arrays are within atol + rtol·|want| of each other, element by element.
@discardableResult
public func assertClose(_ name: String, got: [Float], want: [Float], atol: Double, rtol: Double = 0,
                        file: StaticString = #filePath, line: UInt = #line) -> Comparison {
    let c = Comparison(name, got: got, want: want, atol: atol, rtol: rtol)
    XCTAssertTrue(c.ok, c.description, file: file, line: line)
    return c
}
