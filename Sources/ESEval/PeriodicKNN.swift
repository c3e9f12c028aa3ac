// k-NN of the teacher during pretraining (--eval-every): a fixed subset of a labelled
// dataset (the first N training images as the memory bank, the first M test images classified),
// features extracted sharded over the ranks that are training anyway, the vote on every rank
// (cheap, and it keeps every rank's control flow identical); optionally the correspondence
// accuracy on the first K test images (--eval-correspondence-limit). The teacher's current
// backbone is copied in by key, so the trainer's arena is never touched.
import ESData
import ESDistributed
import ESKernels
import ESModel
import Foundation

public final class PeriodicKNN {
    public let train: ImageSource, test: ImageSource
    public let trainCount: Int, testCount: Int
    public let mean: [Float], std: [Float]
    public let k: Int
    /// Test images for the correspondence accuracy measured beside the k-NN (nil: not measured).
    public let correspondence: (images: ImageSource, count: Int)?
    let backbone: EvalBackbone

    public struct Result {
        public let top1: Double, seconds: Double
        public let correspondence: CorrespondenceAccuracy.Score?
    }

    public init(config: SwinConfig, inputSize: Int, train: ImageSource, test: ImageSource, trainLimit: Int, testLimit: Int,
                mean: [Float], std: [Float], k: Int = 20, correspondence: (images: ImageSource, count: Int)? = nil,
                source: ParameterTable, params: UnsafePointer<Float>) {
        self.train = train; self.test = test
        trainCount = min(trainLimit, train.count); testCount = min(testLimit, test.count)
        self.mean = mean; self.std = std; self.k = k
        self.correspondence = correspondence.map { ($0.images, min($0.count, $0.images.count)) }
        backbone = EvalBackbone(config: config, inputSize: inputSize, copyFrom: source, params: params, origin: "teacher (live)")
    }

    /// Top-1 (%) of the k-NN vote with the given backbone parameters, the correspondence score
    /// when asked for (every rank computes the same, as the vote), and the seconds it took.
    public func run(source: ParameterTable, params: UnsafePointer<Float>, comm: Communicator) -> Result {
        let t0 = DispatchTime.now().uptimeNanoseconds
        backbone.refresh(from: source, params: params)
        let quiet: (String) -> Void = { _ in }
        let a = FeatureExtractor.extract(backbone, source: train, limit: trainCount, mean: mean, std: std, comm: comm, what: "train", progress: quiet)
        let b = FeatureExtractor.extract(backbone, source: test, limit: testCount, mean: mean, std: std, comm: comm, what: "test", progress: quiet)
        let r = KNN.classify(train: a.values.pointer, trainLabels: a.labels, test: b.values.pointer, testLabels: b.labels,
                             dim: a.dim, classes: classCount(train, a, b), ks: [k])
        let corr = correspondence.map {
            CorrespondenceAccuracy.evaluate(backbone, source: $0.images, count: $0.count, mean: mean, std: std,
                                            seed: CorrespondenceAccuracy.defaultSeed, batch: CorrespondenceAccuracy.defaultBatch).score
        }
        return Result(top1: r[0].top1, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9, correspondence: corr)
    }
}
