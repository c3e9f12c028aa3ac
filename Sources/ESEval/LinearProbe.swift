// The linear probe (docs/algorithm.md §7.2): Linear(D → classes), weight N(0, 0.01²) and bias 0;
// cross-entropy; SGD with momentum 0.9 (PyTorch's form: buf ← μ·buf + g, p ← p − lr·buf), no
// weight decay; lr = base · batch / 256, cosine-annealed to 0 over the epochs and stepped per
// epoch (CosineAnnealingLR); validation top-1 after every epoch; the best and the last are
// reported (upstream reports the best, which is selection on the validation set).
//   * fast mode (`train`): features computed once with the evaluation transform;
//   * augmented mode (`trainAugmented`, upstream's protocol): every epoch each training image is
//     a fresh RandomResizedCrop(G, scale 0.08–1, bilinear) with a horizontal flip (p = 0.5),
//     keyed by (seed, epoch, index), through the frozen backbone; validation features are the
//     evaluation transform's, computed once.
import ESData
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

/// The classifier and its optimiser state.
final class LinearClassifier {
    let D: Int, K: Int
    let W, b, dW, db, mW, mb, logits: FloatBuffer
    let momentum: Float
    var first = true

    init(dim D: Int, classes K: Int, batch B: Int, seed: UInt64, momentum: Float) {
        self.D = D; self.K = K; self.momentum = momentum
        W = FloatBuffer(count: K * D); b = FloatBuffer(count: K); dW = FloatBuffer(count: K * D); db = FloatBuffer(count: K)
        mW = FloatBuffer(count: K * D); mb = FloatBuffer(count: K); logits = FloatBuffer(count: B * K)
        var rng = KeyedRandom(seed, 0x11AE)
        for i in 0..<(K * D) { W[i] = Float(0.01 * rng.normal()) }
    }

    /// One SGD step on rows x (n × D) with labels y; returns the summed cross-entropy.
    func step(_ x: UnsafePointer<Float>, labels y: [Int], lr: Float) -> Double {
        let n = y.count
        Linear.forward(y: logits.pointer, x: x, weight: W.pointer, bias: b.pointer, rows: n, inFeatures: D, outFeatures: K)
        var loss = 0.0
        for j in 0..<n {
            let row = logits.pointer + j * K
            var m = -Float.infinity
            for k in 0..<K { m = max(m, row[k]) }
            var z: Float = 0
            for k in 0..<K { row[k] = Foundation.exp(row[k] - m); z += row[k] }
            loss -= Double(Foundation.log(max(row[y[j]] / z, 1e-30)))
            for k in 0..<K { row[k] = (row[k] / z - (k == y[j] ? 1 : 0)) / Float(n) }
        }
        dW.zero(); db.zero()
        Linear.backward(dx: nil, dWeight: dW.pointer, dBias: db.pointer, dy: logits.pointer, x: x, weight: W.pointer, rows: n, inFeatures: D, outFeatures: K)
        for (p, g, m, cnt) in [(W, dW, mW, K * D), (b, db, mb, K)] {
            for i in 0..<cnt {
                m[i] = first ? g[i] : momentum * m[i] + g[i]
                p[i] -= lr * m[i]
            }
        }
        first = false
        return loss
    }

    /// Top-1 (%) of argmax(x·Wᵀ + b).
    func accuracy(_ test: Features) -> Double {
        let rows = 1024, scratch = FloatBuffer(count: rows * K)
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

public enum LinearProbe {
    static func epochOrder(_ N: Int, seed: UInt64, epoch: Int) -> [Int] {
        var order = Array(0..<N)
        var r = KeyedRandom(seed, 0x5EED, UInt64(epoch))
        for i in stride(from: N - 1, to: 0, by: -1) { order.swapAt(i, Int(r.next() % UInt64(i + 1))) }
        return order
    }

    static func lr(_ c: LinearProbeConfig, batch B: Int, epoch: Int) -> Float {
        Float(0.5 * c.baseLR * Double(B) / 256 * (1 + cos(Double.pi * Double(epoch) / Double(c.epochs))))
    }

    static func result(_ accs: [Double]) -> LinearProbeResult {
        let best = accs.enumerated().max { $0.element < $1.element }!
        return LinearProbeResult(best: best.element, bestEpoch: best.offset, last: accs.last ?? 0, perEpoch: accs)
    }

    /// Fast mode: frozen features, no augmentation.
    public static func train(train: Features, test: Features, classes K: Int, config c: LinearProbeConfig,
                             progress: (Int, Double, Double) -> Void = { _, _, _ in }) -> LinearProbeResult {
        let D = train.dim, N = train.count, B = max(1, min(c.batch, N))
        let clf = LinearClassifier(dim: D, classes: K, batch: B, seed: c.seed, momentum: c.momentum)
        let xb = FloatBuffer(count: B * D)
        var accs: [Double] = []
        for epoch in 0..<c.epochs {
            let order = epochOrder(N, seed: c.seed, epoch: epoch), lr = lr(c, batch: B, epoch: epoch)
            var lossSum = 0.0, start = 0
            while start < N {
                let n = min(B, N - start)
                for j in 0..<n { (xb.pointer + j * D).update(from: train.values.pointer + order[start + j] * D, count: D) }
                lossSum += clf.step(xb.pointer, labels: (0..<n).map { Int(train.labels[order[start + $0]]) }, lr: lr)
                start += n
            }
            accs.append(clf.accuracy(test))
            progress(epoch, lossSum / Double(N), accs.last!)
        }
        return result(accs)
    }

    /// Augmented mode on the first `count` images of `source` (one process). One classifier per
    /// base lr in `lrs`, all fed the same augmented features (the backbone is the expensive part).
    public static func trainAugmented(_ computer: FeatureComputer, source: ImageSource, count: Int, test: Features, classes K: Int,
                                      mean: [Float], std: [Float], config c: LinearProbeConfig, lrs: [Double],
                                      progress: (Int, [Double]) -> Void = { _, _ in }) -> [LinearProbeResult] {
        let D = computer.dim, N = min(count, source.count), B = computer.batch, G = computer.backbone.inputSize
        let clfs = lrs.map { _ in LinearClassifier(dim: D, classes: K, batch: B, seed: c.seed, momentum: c.momentum) }
        let images = FloatBuffer(count: B * 3 * G * G), xb = FloatBuffer(count: B * D)
        var accs = [[Double]](repeating: [], count: lrs.count)
        for epoch in 0..<c.epochs {
            let order = epochOrder(N, seed: c.seed, epoch: epoch)
            var start = 0
            while start < N {
                let n = min(B, N - start)
                images.zero()
                DispatchQueue.concurrentPerform(iterations: n) { j in
                    let i = order[start + j]
                    guard let img = try? source.load(i, minShortSide: 0) else { return }   // unreadable: a zero image
                    var rng = KeyedRandom(c.seed, 0xA06, UInt64(epoch), UInt64(i))
                    let box = RandomResizedCrop.box(height: img.height, width: img.width, scale: (0.08, 1), rng: &rng)
                    var view = ImageOps.cropResize(img, box: box, outWidth: G, outHeight: G, filter: .bilinear)
                    if rng.uniform() < 0.5 { ImageOps.flipHorizontal(&view) }
                    MultiCrop.normalize(view, mean: mean, std: std, into: images.pointer + j * 3 * G * G)
                }
                computer.compute(images: images.pointer, count: n, into: xb.pointer)
                let labels = (0..<n).map { source.label(order[start + $0]) }
                for (k, base) in lrs.enumerated() {
                    var ck = c
                    ck.baseLR = base
                    _ = clfs[k].step(xb.pointer, labels: labels, lr: lr(ck, batch: B, epoch: epoch))
                }
                start += n
            }
            for k in lrs.indices { accs[k].append(clfs[k].accuracy(test)) }
            progress(epoch, accs.map { $0.last! })
        }
        return accs.map(result)
    }
}
