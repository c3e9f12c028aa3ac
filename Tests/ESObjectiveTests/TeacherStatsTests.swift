// The collapse statistics the trainer logs (EsViTLoss.teacherStats): per-row teacher entropies,
// the batch-averaged distribution, and the teacher entropy averaged over exactly the pairs the
// loss averages over — recomputed here in Double from the definitions (docs/algorithm.md §4.2, §4.3: view pairs
// v ≠ q over both teacher views; region pairs over the matched teacher token j*), so that
// KL(teacher ‖ student) = loss − pair entropy holds and is never negative.
import ESKernels
@testable import ESLoss
import ESModel
import ESObjective
import ESTestSupport
import Foundation
import XCTest

final class TeacherStatsTests: XCTestCase {
    func entropy(_ p: UnsafePointer<Float>, _ K: Int) -> Double {
        var h = 0.0
        for k in 0..<K where p[k] > 0 { h -= Double(p[k]) * log(Double(p[k])) }
        return h
    }

    func testStatisticsMatchTheirDefinitions() throws {
        let (m, g, l) = ObjectiveCheckTests.makeModel(dense: true)
        let v = try m.forwardBackward(globals: g, locals: l, teacherTemperature: 0.04)
        let loss = m.loss, lay = loss.layout, K = loss.classes, B = lay.batch
        let viewStats: EsViTLoss.TeacherStats? = loss.teacherStats(region: false)
        let regionStats: EsViTLoss.TeacherStats? = loss.teacherStats(region: true)
        let view = try XCTUnwrap(viewStats), region = try XCTUnwrap(regionStats)
        // Row entropies and the batch mean.
        let hv = (0..<lay.teacherViewRows).map { entropy(loss.teacherView.pointer + $0 * K, K) }
        let hr = (0..<lay.teacherRegionRows).map { entropy(loss.teacherRegion.pointer + $0 * K, K) }
        XCTAssertEqual(view.entropySum, hv.reduce(0, +), accuracy: 1e-4)
        XCTAssertEqual(region.entropySum, hr.reduce(0, +), accuracy: 1e-3)
        XCTAssertEqual(view.rows, Double(2 * B))
        for k in [0, 7, K - 1] {
            var col = 0.0
            for r in 0..<lay.teacherViewRows { col += Double(loss.teacherView.pointer[r * K + k]) }
            XCTAssertEqual(view.probabilitySum[k], col, accuracy: 1e-5)
        }
        // View pairs: student view v against teacher view q ≠ v, q ∈ {0, 1}, every image.
        var sum = 0.0, n = 0
        for sv in 0..<lay.views { for q in 0..<2 where q != sv { for b in 0..<B { sum += hv[q * B + b]; n += 1 } } }
        XCTAssertEqual(n, lay.pairs * B)
        XCTAssertEqual(view.pairEntropy, sum / Double(n), accuracy: 1e-5)
        // Region pairs: mean over pairs of the mean over the student view's tokens of H(teacher j*).
        var rsum = 0.0
        for sv in 0..<lay.views {
            let (start, tokens) = lay.regionStart(view: sv)
            for q in 0..<2 where q != sv {
                let slot = sv < 2 ? 0 : q
                var s = 0.0
                for r in start..<(start + B * tokens) {
                    let j = Int(loss.regionIndex[2 * r + slot])
                    XCTAssertTrue(j >= q * B * lay.globalTokens && j < (q + 1) * B * lay.globalTokens, "match lies in teacher view \(q)")
                    s += hr[j]
                }
                rsum += s / Double(B * tokens)
            }
        }
        XCTAssertEqual(region.pairEntropy, rsum / Double(lay.pairs), accuracy: 1e-5)
        // KL = cross-entropy − entropy ≥ 0.
        XCTAssertGreaterThan(v.view - view.pairEntropy, 0)
        XCTAssertGreaterThan(v.region - region.pairEntropy, 0)
        // Region off: no region statistics.
        let (m2, g2, l2) = ObjectiveCheckTests.makeModel(dense: false)
        _ = try m2.forwardBackward(globals: g2, locals: l2, teacherTemperature: 0.04)
        let off: EsViTLoss.TeacherStats? = m2.loss.teacherStats(region: true)
        XCTAssertNil(off)
        var h2 = 0.0
        for r in 0..<(2 * B) { h2 += entropy(m2.loss.teacherView.pointer + r * K, K) }
        let on: EsViTLoss.TeacherStats? = m2.loss.teacherStats(region: false)
        XCTAssertEqual(try XCTUnwrap(on).pairEntropy, h2 / Double(2 * B), accuracy: 1e-5)
    }
}
