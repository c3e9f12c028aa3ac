// Weighted k-NN: a hand-worked case (three clusters on the unit circle, answers derived on paper),
// random clustered features against a direct Double implementation of DINO's definition, and the
// top-k selection against a full sort.
import ESEval
import ESKernels
import XCTest

final class KNNTests: XCTestCase {
    func unit(_ deg: Double) -> [Float] { [Float(cos(deg * .pi / 180)), Float(sin(deg * .pi / 180))] }

    func testHandWorkedClusters() {
        // Train: class 0 at 0°, 10°; class 1 at 90°, 100°, 110°; class 2 at 200° (unit vectors, cosine = cos of the angle).
        let train = [0.0, 10, 90, 100, 110, 200].flatMap(unit), labels: [Int32] = [0, 0, 1, 1, 1, 2]
        // Test: 3° (class 0), 95° (class 1), 190° (class 2), and 60° labelled class 0 although class 1 is nearer.
        let test = [3.0, 95, 190, 60].flatMap(unit), truth: [Int32] = [0, 1, 2, 0]
        let r = KNN.classify(train: train, trainLabels: labels, test: test, testLabels: truth, dim: 2, classes: 3, ks: [1, 2, 6], temperature: 0.07)
        // k = 1: 3° → 0° ✓, 95° → 90° or 100° ✓, 190° → 200° ✓, 60° → 90° (30° away; 10° is 50° away) ✗: 75 %.
        //   Top-5 with k = 1 looks at min(5, k) = 1 class: also 75 %.
        XCTAssertEqual(r[0], KNNResult(k: 1, top1: 75, top5: 75))
        // k = 2: 60° → 90°, 100°, both class 1 ✗; its class scores are (0, >0, 0): the zero tie between classes 0 and 2
        //   ranks class 0 second, so top-min(5, 2) holds it: top-1 75 %, top-5 100 %.
        XCTAssertEqual(r[1], KNNResult(k: 2, top1: 75, top5: 100))
        // k = 6: 60°: class 1 gets e^(cos30°/T) + e^(cos40°/T) + e^(cos50°/T), class 0 only e^(cos50°/T) + e^(cos60°/T) ✗.
        //   190°: class 2 gets e^(cos10°/T) = e^14.07, class 1 e^(cos80°/T) + e^(cos90°/T) + e^(cos100°/T) ≈ e^2.5 ✓. Top-5: all.
        XCTAssertEqual(r[2], KNNResult(k: 6, top1: 75, top5: 100))
    }

    /// DINO's definition in Double: sort all training samples by similarity, keep k, weigh.
    func reference(_ train: [Float], _ tl: [Int32], _ test: [Float], _ ql: [Int32], dim: Int, classes: Int, k: Int, T: Double) -> (Double, Double) {
        var c1 = 0, c5 = 0
        for q in 0..<ql.count {
            let sims = (0..<tl.count).map { i in (0..<dim).reduce(0.0) { $0 + Double(test[q * dim + $1]) * Double(train[i * dim + $1]) } }
            let order = sims.indices.sorted { sims[$0] > sims[$1] || (sims[$0] == sims[$1] && $0 < $1) }.prefix(k)
            var score = [Double](repeating: 0, count: classes)
            for i in order { score[Int(tl[i])] += exp(sims[i] / T) }
            let ranked = score.indices.sorted { score[$0] > score[$1] || (score[$0] == score[$1] && $0 < $1) }
            if ranked[0] == Int(ql[q]) { c1 += 1 }
            if ranked.prefix(min(5, k)).contains(Int(ql[q])) { c5 += 1 }
        }
        return (100 * Double(c1) / Double(ql.count), 100 * Double(c5) / Double(ql.count))
    }

    func testClusteredFeaturesMatchTheDefinition() {
        var rng = KeyedRandom(11)
        let dim = 16, classes = 7, nTrain = 300, nTest = 120
        let centres = (0..<classes).map { _ in (0..<dim).map { _ in rng.normal() } }
        func sample(_ c: Int) -> [Float] {
            let v = (0..<dim).map { centres[c][$0] + 1.2 * rng.normal() }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { Float($0 / n) }
        }
        let tl = (0..<nTrain).map { Int32($0 % classes) }, ql = (0..<nTest).map { _ in Int32(rng.next() % UInt64(classes)) }
        let train = tl.flatMap { sample(Int($0)) }, test = ql.flatMap { sample(Int($0)) }
        for threads in [1, 2] {
            Compute.setThreads(threads)
            let got = KNN.classify(train: train, trainLabels: tl, test: test, testLabels: ql, dim: dim, classes: classes, ks: [1, 10, 20, 200],
                                   temperature: 0.07, chunk: 50)
            for r in got {
                let want = reference(train, tl, test, ql, dim: dim, classes: classes, k: r.k, T: 0.07)
                XCTAssertEqual(r.top1, want.0, accuracy: 1e-9, "k = \(r.k), \(threads) threads")
                XCTAssertEqual(r.top5, want.1, accuracy: 1e-9, "k = \(r.k), \(threads) threads")
            }
            XCTAssertGreaterThan(got[2].top1, 100.0 / Double(classes) + 20, "clustered features must be easy")
        }
        Compute.setThreads(1)
    }

    func testTopKEqualsASort() {
        var rng = KeyedRandom(5)
        let x = (0..<1000).map { _ in Float(Int(rng.next() % 200)) }    // many ties
        var s = [Float](repeating: 0, count: 37), i = [Int32](repeating: 0, count: 37)
        XCTAssertEqual(KNN.topK(x, n: x.count, k: 37, sims: &s, indices: &i), 37)
        let want = x.indices.sorted { x[$0] > x[$1] || (x[$0] == x[$1] && $0 < $1) }.prefix(37)
        XCTAssertEqual(i.map(Int.init), Array(want))
        XCTAssertEqual(s, want.map { x[$0] })
    }
}
