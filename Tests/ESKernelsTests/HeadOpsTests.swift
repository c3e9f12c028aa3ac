// Head and loss kernels against finite differences of their Double references.
import XCTest
import ESKernels
import ESTestSupport

final class HeadOpsTests: XCTestCase {
    override func tearDown() { Compute.setThreads(1) }

    func testL2NormalizeBackward() {
        for t in [1, 2] {
            Compute.setThreads(t)
            let R = 5, D = 11
            let x = FiniteDifference.randoms(R * D, seed: 31), dy = FiniteDifference.randoms(R * D, seed: 32)
            var y = [Float](repeating: 0, count: R * D), n = [Float](repeating: 0, count: R), dx = y
            L2Normalize.forward(y: &y, norms: &n, x: x.map(Float.init), rows: R, dim: D)
            let yRef = HeadOpsRef.l2normalize(x, rows: R, D: D)
            for i in 0..<(R * D) { XCTAssertEqual(Double(y[i]), yRef[i], accuracy: 1e-6) }
            L2Normalize.backward(dx: &dx, dy: dy.map(Float.init), y: y, norms: n, rows: R, dim: D)
            let fd = FiniteDifference.check(x, analytic: dx.map(Double.init), step: 1e-5) {
                FiniteDifference.weighted(HeadOpsRef.l2normalize($0, rows: R, D: D), dy)
            }
            XCTAssertLessThan(fd.maxRelError, 1e-4, "l2 normalize backward (Float analytic vs Double FD)")
        }
    }

    func testWeightNormBackward() {
        let K = 7, D = 5
        let g = FiniteDifference.randoms(K, seed: 33).map { 1 + 0.5 * $0 }, v = FiniteDifference.randoms(K * D, seed: 34)
        let dW = FiniteDifference.randoms(K * D, seed: 35)
        var w = [Float](repeating: 0, count: K * D), n = [Float](repeating: 0, count: K)
        WeightNorm.forward(w: &w, norms: &n, g: g.map(Float.init), v: v.map(Float.init), rows: K, dim: D)
        let wRef = HeadOpsRef.weightNorm(g: g, v: v, K: K, D: D)
        for i in 0..<(K * D) { XCTAssertEqual(Double(w[i]), wRef[i], accuracy: 1e-6) }
        var dg = [Float](repeating: 0, count: K), dv = [Float](repeating: 0, count: K * D)
        WeightNorm.backward(dg: &dg, dv: &dv, dW: dW.map(Float.init), g: g.map(Float.init), v: v.map(Float.init), norms: n, rows: K, dim: D)
        let fdv = FiniteDifference.check(v, analytic: dv.map(Double.init)) { FiniteDifference.weighted(HeadOpsRef.weightNorm(g: g, v: $0, K: K, D: D), dW) }
        let fdg = FiniteDifference.check(g, analytic: dg.map(Double.init)) { FiniteDifference.weighted(HeadOpsRef.weightNorm(g: $0, v: v, K: K, D: D), dW) }
        XCTAssertLessThan(fdv.maxRelError, 1e-4); XCTAssertLessThan(fdg.maxRelError, 1e-4)
    }

    /// Rows with one or two target rows (as view rows of local crops), various weights; K not a
    /// multiple of 8; a temperature of 0.1 as the student's.
    func testSoftCrossEntropyValueAndGradient() {
        for t in [1, 2] {
            Compute.setThreads(t)
            let R = 6, K = 13, rowsT = 3, tau = 0.1
            let s = FiniteDifference.randoms(R * K, seed: 36)
            let T = ActivationRefSoftmax(FiniteDifference.randoms(rowsT * K, seed: 37).map { $0 * 3 }, rows: rowsT, K: K)
            let targets: [[Int]] = (0..<R).map { r in r % 2 == 0 ? [r % rowsT] : [0, 2] }
            let index: [Int32] = targets.flatMap { ($0 + [-1]).prefix(2).map(Int32.init) }
            let weights: [Double] = (0..<R).map { 0.5 / Double($0 + 1) }
            var tFull = [Double](repeating: 0, count: R * K)
            for r in 0..<R { for j in targets[r] { for k in 0..<K { tFull[r * K + k] += T[j * K + k] } } }
            var logits = s.map(Float.init)
            let Tf = T.map(Float.init)
            let loss = Tf.withUnsafeBufferPointer { tp in
                SoftCrossEntropy.rowsInPlace(logits: &logits, rows: R, classes: K, temperature: Float(tau), targetMatrix: tp.baseAddress!,
                                             targetIndex: index, targetsPerRow: 2, weights: weights.map(Float.init))
            }
            let ref = HeadOpsRef.softCrossEntropy(s, tFull, weights: weights, R: R, K: K, tau: tau)
            XCTAssertEqual(loss, ref, accuracy: 1e-5 * abs(ref))
            let fd = FiniteDifference.check(s, analytic: logits.map(Double.init)) {
                HeadOpsRef.softCrossEntropy($0, tFull, weights: weights, R: R, K: K, tau: tau)
            }
            XCTAssertLessThan(fd.maxRelError, 1e-4, "soft cross-entropy gradient")
        }
    }

    /// With all-zero logits and uniform teacher rows the loss is ln K (docs/algorithm.md §9).
    func testZeroLogitsGiveLogK() {
        let K = 4096, R = 2
        var logits = [Float](repeating: 0, count: R * K)
        let T = [Float](repeating: 1 / Float(K), count: K)
        let loss = T.withUnsafeBufferPointer { tp in
            SoftCrossEntropy.rowsInPlace(logits: &logits, rows: R, classes: K, temperature: 0.1, targetMatrix: tp.baseAddress!,
                                         targetIndex: [0, 0], targetsPerRow: 1, weights: [0.5, 0.5])
        }
        XCTAssertEqual(loss, log(Double(K)), accuracy: 1e-5)
    }
}

private func ActivationRefSoftmax(_ x: [Double], rows: Int, K: Int) -> [Double] { ActivationRef.softmax(x, rows: rows, cols: K) }
