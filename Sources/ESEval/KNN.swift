// Weighted k-NN classification on L2-normalised features, as DINO's knn_classifier (docs/algorithm.md §7.1):
// cosine similarity test·trainᵀ (a GEMM per chunk of test rows), the k most similar training
// samples, each voting for its label with weight exp(similarity / T); the prediction is the class
// with the largest summed weight, top-5 the five largest. The neighbours are found once for the
// largest k, sorted by similarity, and every smaller k uses their prefix (what separate top-k
// calls return).
import ESKernels
import Foundation

public struct KNNResult: Sendable, Equatable {
    public let k: Int
    public let top1: Double, top5: Double     // percentages
    public init(k: Int, top1: Double, top5: Double) { self.k = k; self.top1 = top1; self.top5 = top5 }
}

public enum KNN {
    public static func classify(train: UnsafePointer<Float>, trainLabels: [Int32], test: UnsafePointer<Float>, testLabels: [Int32],
                                dim: Int, classes: Int, ks: [Int], temperature: Float = 0.07, chunk: Int = 256) -> [KNNResult] {
        let nTrain = trainLabels.count, nTest = testLabels.count
        let kmax = min(ks.max() ?? 1, nTrain)
        let rows = max(1, min(chunk, nTest))
        let sims = FloatBuffer(count: rows * nTrain)
        var correct1 = [Int](repeating: 0, count: ks.count), correct5 = [Int](repeating: 0, count: ks.count)
        let lock = NSLock()
        var start = 0
        while start < nTest {
            let n = min(rows, nTest - start)
            Linear.forward(y: sims.pointer, x: test + start * dim, weight: train, bias: nil, rows: n, inFeatures: dim, outFeatures: nTrain)
            Compute.pool.parallelFor(n, minPerThread: 8) { r, _ in
                var topSim = [Float](repeating: 0, count: kmax), topIdx = [Int32](repeating: 0, count: kmax)
                var scores = [Float](repeating: 0, count: classes)
                var c1 = [Int](repeating: 0, count: ks.count), c5 = [Int](repeating: 0, count: ks.count)
                for q in r {
                    let count = topK(sims.pointer + q * nTrain, n: nTrain, k: kmax, sims: &topSim, indices: &topIdx)
                    let label = testLabels[start + q]
                    for (ki, k) in ks.enumerated() {
                        for c in 0..<classes { scores[c] = 0 }
                        for j in 0..<min(k, count) { scores[Int(trainLabels[Int(topIdx[j])])] += Foundation.exp(topSim[j] / temperature) }
                        // Rank of the true class: classes with a strictly larger score, then ties before it in index order
                        // (a stable descending sort).
                        let s = scores[Int(label)]
                        var rank = 0
                        for c in 0..<classes where scores[c] > s || (scores[c] == s && c < Int(label)) { rank += 1 }
                        if rank == 0 { c1[ki] += 1 }
                        if rank < min(5, k) { c5[ki] += 1 }
                    }
                }
                lock.lock()
                for i in 0..<ks.count { correct1[i] += c1[i]; correct5[i] += c5[i] }
                lock.unlock()
            }
            start += n
        }
        return ks.enumerated().map { i, k in
            KNNResult(k: k, top1: 100 * Double(correct1[i]) / Double(max(nTest, 1)), top5: 100 * Double(correct5[i]) / Double(max(nTest, 1)))
        }
    }

    /// The `k` largest of `x[0..<n]` with their indices, sorted descending (ties: lower index
    /// first). Returns how many were found (min(k, n)).
    @discardableResult
    public static func topK(_ x: UnsafePointer<Float>, n: Int, k: Int, sims: inout [Float], indices: inout [Int32]) -> Int {
        let k = min(k, n)
        guard k > 0 else { return 0 }
        // Min-heap on (value, -index) of the best k so far; most candidates fail the first compare.
        var size = 0
        @inline(__always) func less(_ a: Int, _ b: Int) -> Bool {
            sims[a] < sims[b] || (sims[a] == sims[b] && indices[a] > indices[b])
        }
        func siftDown(_ i0: Int) {
            var i = i0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < size && less(l, m) { m = l }
                if r < size && less(r, m) { m = r }
                if m == i { return }
                sims.swapAt(i, m); indices.swapAt(i, m); i = m
            }
        }
        for i in 0..<n {
            let v = x[i]
            if size < k {
                sims[size] = v; indices[size] = Int32(i)
                var c = size
                size += 1
                while c > 0 {
                    let p = (c - 1) / 2
                    if less(c, p) { sims.swapAt(c, p); indices.swapAt(c, p); c = p } else { break }
                }
            } else if v > sims[0] {
                sims[0] = v; indices[0] = Int32(i)
                siftDown(0)
            }
        }
        // Heap-sort into descending order.
        var end = size
        while end > 1 {
            end -= 1
            sims.swapAt(0, end); indices.swapAt(0, end)
            size = end
            siftDown(0)
        }
        return k
    }
}
