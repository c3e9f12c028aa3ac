// `esvit bench data`: decoded and augmented images/s of the multi-crop loader (2 global + N local
// crops per image) on Fashion-MNIST or a JPEG folder, optionally beside Pillow + torchvision doing
// the same work on the same files with as many worker processes (tools/reference/bench_data_pillow.py).
import ESData
import Foundation

public struct DataBench {
    public var dataset: DatasetKind, dataPath: String, crops: MultiCropConfig
    public var threads: Int, batch: Int, batches: Int, dctScaling: Bool

    public init(dataset: DatasetKind, dataPath: String?, globalSize: Int, localSize: Int, localCrops: Int,
                globalScale: [Double], localScale: [Double], threads: Int, batch: Int, batches: Int, dctScaling: Bool) throws {
        guard let path = dataPath ?? dataset.defaultPath else { throw BenchError.invalid("--dataset \(dataset) needs --data-path (\(dataset.installHint))") }
        guard threads >= 1, batch >= 1, batches >= 1 else { throw BenchError.invalid("--threads, --batch and --batches must be ≥ 1") }
        crops = MultiCropConfig(globalSize: globalSize, localSize: localSize, localCrops: localCrops,
                                globalScale: globalScale, localScale: localScale, mean: dataset.mean, std: dataset.std)
        if let p = crops.problem() { throw BenchError.invalid(p) }
        self.dataset = dataset; self.dataPath = path; self.threads = threads; self.batch = batch; self.batches = batches; self.dctScaling = dctScaling
    }

    /// Loads one warm-up batch and `batches` timed ones; reports through `say`; returns images/s.
    @discardableResult
    public func run(say: (String) -> Void) throws -> Double {
        let source = try dataset.trainingImages(at: dataPath)
        let sampler = EpochSampler(count: source.count, worldSize: 1, rank: 0, batchPerRank: batch, seed: 0)
        guard sampler.iterationsPerEpoch > batches else { throw BenchError.invalid("the dataset has only \(sampler.iterationsPerEpoch) batches of \(batch)") }
        let loader = MultiCropLoader(source: source, sampler: sampler, config: crops, seed: 0, threads: threads, dctScaling: dctScaling)
        loader.start(epoch: 0)
        _ = loader.next()                                  // warm-up
        let t0 = Measure.monotonic()
        for _ in 0..<batches { _ = loader.next() }
        let s = Double(Measure.monotonic() - t0) * 1e-9
        loader.stop()
        let rate = Double(batch * batches) / s
        say("esvit bench data: \(Machine.summary)")
        say("  \(dataset) \(dataPath) (\(source.count) images), batch \(batch), 2×\(crops.globalSize) + \(crops.localCrops)×\(crops.localSize) px, \(threads) loader threads")
        say(String(format: "  Swift: %.0f images/s (%.0f per thread); %d of %d samples decoded at reduced size", rate, rate / Double(threads),
                   loader.reducedDecodes, batch * (batches + 1)))
        return rate
    }

    /// Runs the Pillow + torchvision pipeline on the same data through `peer` and reports the ratio.
    public func compare(_ rate: Double, with peer: TorchPeer, say: (String) -> Void) throws {
        let normalisation: [String] = ["--mean"] + crops.mean.map { "\($0)" } + ["--std"] + crops.std.map { "\($0)" }
        let (v, versions) = try peer.figures([
            "--dataset", dataset.rawValue, "--data-path", dataPath, "--threads", "\(threads)", "--batch", "\(batch)", "--batches", "\(batches)",
            "--global-size", "\(crops.globalSize)", "--local-size", "\(crops.localSize)", "--local-crops", "\(crops.localCrops)"] + normalisation,
            ["images_s"])
        say(String(format: "  Pillow + torchvision (same run): %.0f images/s [%@]", v[0], versions))
        say(String(format: "  ratio Swift/Pillow: %.2f×", rate / v[0]))
    }
}
