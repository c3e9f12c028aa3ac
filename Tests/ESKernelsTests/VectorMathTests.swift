// Vectorised exp/erf against libm over their working ranges, and the flush-to-zero state that
// compute threads run with.
import XCTest
import Foundation
import ESKernels

final class VectorMathTests: XCTestCase {
    func testExpMatchesLibm() {
        let xs = stride(from: -87.0, through: 88.0, by: 0.01).map(Float.init) + [0, -0.0, 1e-8, -1e-8]
        var ys = [Float](repeating: 0, count: xs.count)
        VectorMath.exp(xs, &ys, xs.count)
        var worst = 0.0
        for (x, y) in zip(xs, ys) { worst = max(worst, abs(Double(y) - Foundation.exp(Double(x))) / Foundation.exp(Double(x))) }
        XCTAssertLessThan(worst, 4e-7, "max relative error of vexp")
        var tiny = [Float](repeating: 1, count: 3)
        VectorMath.exp([-100, -1000, -Float.infinity], &tiny, 3)
        XCTAssertTrue(tiny.allSatisfy { $0 >= 0 && $0 < 2e-38 }, "large negative inputs give (near) zero: \(tiny)")
    }

    func testErfMatchesLibm() {
        let xs = stride(from: -6.0, through: 6.0, by: 0.001).map(Float.init)
        var ys = [Float](repeating: 0, count: xs.count)
        VectorMath.erf(xs, &ys, xs.count)
        var worst = 0.0
        for (x, y) in zip(xs, ys) { worst = max(worst, abs(Double(y) - Foundation.erf(Double(x)))) }
        // A&S 7.1.26 is 1.5e-7 in exact arithmetic; float evaluation adds ~2 ulp near 1 (4.1e-7 measured).
        XCTAssertLessThan(worst, 5e-7, "max absolute error of verf")
    }

    func testComputeThreadsFlushDenormals() {
        Compute.setThreads(2)
        defer { Compute.setThreads(1) }
        XCTAssertTrue(Compute.flushesDenormals)
        var seen = [Bool](repeating: false, count: 2)
        Compute.pool.runOnAll { t in seen[t] = Compute.flushesDenormals }
        XCTAssertEqual(seen, [true, true])
    }
}
