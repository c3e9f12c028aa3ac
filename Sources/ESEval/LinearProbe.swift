// The linear probe (spec §7.2) on frozen features: Linear(D → classes), weight N(0, 0.01²) and
// bias 0; cross-entropy; SGD with momentum 0.9 (PyTorch's form: buf ← μ·buf + g, p ← p − lr·buf),
// no weight decay; lr = base · batch / 256, cosine-annealed to 0 over the epochs and stepped per
// epoch (CosineAnnealingLR); validation top-1 after every epoch; the best and the last are
// reported (upstream reports the best, which is selection on the validation set).
// This is the fast mode: features are computed once, without augmentation.
import ESKernels
import Foundation

public struct LinearProbeConfig: Sendable {
    public var epochs = 100, batch = 256
    public var baseLR = 0.001
    public var momentum: Float = 0.9
    public var seed: UInt64 = 0
    public init() {}
}

public struct LinearProbeResult: Sendable {
    public let best: Double, bestEpoch: Int, last: Double
    public let perEpoch: [Double]
}

public enum LinearProbe {
    public static func train(train: Features, test: Features, classes K: Int, config c: LinearProbeConfig,
                             progress: (Int, Double, Double) -> Void = { _, _, _ in }) -> LinearProbeResult {
        let D = train.dim, N = train.count, B = max(1, min(c.batch, N))
        let W = FloatBuffer(count: K * D), b = FloatBuffer(count: K)
        var rng = KeyedRandom(c.seed, 0x11AE)
        for i in 0..<(K * D) { W[i] = Float(0.01 * rng.normal()) }
        let dW = FloatBuffer(count: K * D), db = FloatBuffer(count: K)
        let mW = FloatBuffer(count: K * D), mb = FloatBuffer(count: K)
        let xb = FloatBuffer(count: B * D), logits = FloatBuffer(count: B * K)
        let evalLogits = FloatBuffer(count: min(1024, max(test.count, 1)) * K)
        let peak = c.baseLR * Double(B) / 256
        var accs: [Double] = [], first = true
        for epoch in 0..<c.epochs {
            let lr = Float(0.5 * peak * (1 + cos(Double.pi * Double(epoch) / Double(c.epochs))))
            var order = Array(0..<N)
            var r = KeyedRandom(c.seed, 0x5EED, UInt64(epoch))
            for i in stride(from: N - 1, to: 0, by: -1) { order.swapAt(i, Int(r.next() % UInt64(i + 1))) }
            var lossSum = 0.0
            var start = 0
            while start < N {
                let n = min(B, N - start)
                for j in 0..<n { (xb.pointer + j * D).update(from: train.values.pointer + order[start + j] * D, count: D) }
                Linear.forward(y: logits.pointer, x: xb.pointer, weight: W.pointer, bias: b.pointer, rows: n, inFeatures: D, outFeatures: K)
                // Softmax cross-entropy: dlogits = (softmax − onehot) / n.
                for j in 0..<n {
                    let row = logits.pointer + j * K
                    var m = -Float.infinity
                    for k in 0..<K { m = max(m, row[k]) }
                    var z: Float = 0
                    for k in 0..<K { row[k] = Foundation.exp(row[k] - m); z += row[k] }
                    let y = Int(train.labels[order[start + j]])
                    lossSum -= Double(Foundation.log(max(row[y] / z, 1e-30)))
                    for k in 0..<K { row[k] = (row[k] / z - (k == y ? 1 : 0)) / Float(n) }
                }
                dW.zero(); db.zero()
                Linear.backward(dx: nil, dWeight: dW.pointer, dBias: db.pointer, dy: logits.pointer, x: xb.pointer, weight: W.pointer,
                                rows: n, inFeatures: D, outFeatures: K)
                for (p, g, m, cnt) in [(W, dW, mW, K * D), (b, db, mb, K)] {
                    for i in 0..<cnt {
                        m[i] = first ? g[i] : c.momentum * m[i] + g[i]
                        p[i] -= lr * m[i]
                    }
                }
                first = false
                start += n
            }
            let acc = accuracy(W: W, b: b, test: test, classes: K, scratch: evalLogits)
            accs.append(acc)
            progress(epoch, lossSum / Double(N), acc)
        }
        let best = accs.enumerated().max { $0.element < $1.element }!
        return LinearProbeResult(best: best.element, bestEpoch: best.offset, last: accs.last ?? 0, perEpoch: accs)
    }

    /// Top-1 (%) of argmax(x·Wᵀ + b).
    static func accuracy(W: FloatBuffer, b: FloatBuffer, test: Features, classes K: Int, scratch: FloatBuffer) -> Double {
        let rows = scratch.count / K, D = test.dim
        var correct = 0, start = 0
        while start < test.count {
            let n = min(rows, test.count - start)
            Linear.forward(y: scratch.pointer, x: test.values.pointer + start * D, weight: W.pointer, bias: b.pointer, rows: n, inFeatures: D, outFeatures: K)
            for j in 0..<n {
                var arg = 0
                for k in 1..<K where scratch[j * K + k] > scratch[j * K + arg] { arg = k }
                if arg == Int(test.labels[start + j]) { correct += 1 }
            }
            start += n
        }
        return 100 * Double(correct) / Double(max(test.count, 1))
    }
}
