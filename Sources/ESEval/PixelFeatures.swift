// The no-learning baselines of the k-NN tables: each image's own pixels as its feature.
// Gray value per pixel (the mean of R, G and B, in 0…1) at the stored size, so every image of
// the dataset must have the same size (Fashion-MNIST: 784-d). "standardized" subtracts each
// pixel's training-set mean and divides by its training-set std before the L2 normalisation the
// k-NN applies to every feature.
import ESData
import ESKernels
import Foundation

public enum PixelFeatures {
    public enum Mode: String, CaseIterable, Sendable { case raw, standardized }

    /// Gray pixels of the first `limit` images, L2-normalised later by `finish`.
    public static func extract(_ source: ImageSource, limit: Int) throws -> Features {
        var dim = 0
        var values: [Float] = []
        var labels: [Int32] = []
        var unreadable = 0
        for i in 0..<limit {
            guard let img = try? source.load(i, plan: { _, _ in 0 }) else {
                unreadable += 1
                values += [Float](repeating: 0, count: dim); labels.append(Int32(source.label(i)))
                continue
            }
            let n = img.width * img.height
            if dim == 0 { dim = n; values.reserveCapacity(limit * n); values += [Float](repeating: 0, count: unreadable * n) }
            guard n == dim else {
                throw EvalError.invalid("\(source.name(i)) is \(img.width)×\(img.height), but earlier images have \(dim) pixels; pixel baselines need one image size")
            }
            for p in 0..<n {
                let o = 3 * p
                values.append((Float(img.pixels[o]) + Float(img.pixels[o + 1]) + Float(img.pixels[o + 2])) / (3 * 255))
            }
            labels.append(Int32(source.label(i)))
        }
        guard dim > 0 else { throw EvalError.invalid("no readable image among the first \(limit)") }
        let buf = FloatBuffer(count: values.count)
        values.withUnsafeBufferPointer { buf.pointer.update(from: $0.baseAddress!, count: values.count) }
        return Features(values: buf, count: limit, dim: dim, labels: labels, unreadable: unreadable)
    }

    /// Applies `mode` (standardisation with the training set's statistics) and L2-normalises.
    public static func finish(train: Features, test: Features, mode: Mode) {
        let D = train.dim
        if mode == .standardized {
            var mean = [Double](repeating: 0, count: D), sq = [Double](repeating: 0, count: D)
            for r in 0..<train.count { for d in 0..<D { let v = Double(train.values[r * D + d]); mean[d] += v; sq[d] += v * v } }
            let n = Double(train.count)
            let std = (0..<D).map { d -> Double in let m = mean[d] / n; return max((sq[d] / n - m * m).squareRoot(), 1e-6) }
            for f in [train, test] { for r in 0..<f.count { for d in 0..<D {
                f.values[r * D + d] = Float((Double(f.values[r * D + d]) - mean[d] / n) / std[d])
            } } }
        }
        for f in [train, test] {
            var norms = [Float](repeating: 0, count: f.count)
            L2Normalize.forward(y: f.values.pointer, norms: &norms, x: f.values.pointer, rows: f.count, dim: D)
        }
    }
}
