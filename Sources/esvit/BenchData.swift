// `esvit bench data`: decoded and augmented images/s of the multi-crop loader (2 global + N local
// crops per image) on Fashion-MNIST or a JPEG folder, against Pillow + torchvision doing the same
// work on the same files with as many worker processes, in the same run.
import ArgumentParser
import ESData
import ESKernels
import Foundation

struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Input-pipeline throughput (decode + DINO multi-crop) against Pillow + torchvision.",
        discussion: """
        Images/s counts samples; each yields 2 global and --local-crops local crops. With \
        --compare-torch PYTHON, tools/reference/bench_data_pillow.py runs the official DINO \
        augmentation with a DataLoader of --threads worker processes on the same data.

        Example: esvit bench data --dataset folder --data-path data/fmnist-jpeg/train --threads 2 --compare-torch .venv/bin/python
        ImageNet-like: python tools/reference/make_bench_jpegs.py /tmp/imnet, then --data-path /tmp/imnet \
        --global-crops-size 224 --local-crops-size 96 --local-crops-number 8 --batch 16
        """)

    @Option(help: "fashion-mnist (IDX files) or folder (JPEG image folder).") var dataset: DatasetKind = .standard
    @Option(help: "Dataset location (default for fashion-mnist: \(FashionMNIST.defaultRoot); the image-folder root for folder).") var dataPath: String?
    @Option(help: "Loader threads.") var threads: Int = 1
    @Option(help: "Images per batch.") var batch: Int = 64
    @Option(help: "Timed batches (after one warm-up batch; both sides prefetch 2 batches per worker).") var batches: Int = 30
    @Option(name: [.customLong("global-crops-size"), .customLong("global-size")], help: "Global crop size.") var globalSize: Int = 32
    @Option(name: [.customLong("local-crops-size"), .customLong("local-size")], help: "Local crop size.") var localSize: Int = 16
    @Option(name: [.customLong("local-crops-number"), .customLong("local-crops")], help: "Local crops per image.") var localCrops: Int = 6
    @Option(parsing: .upToNextOption, help: "Global crops' RandomResizedCrop scale range (two numbers).") var globalCropsScale: [Double] = [0.4, 1.0]
    @Option(parsing: .upToNextOption, help: "Local crops' RandomResizedCrop scale range (two numbers).") var localCropsScale: [Double] = [0.05, 0.4]
    @Flag(help: "Always decode JPEGs at full size (bit-exact with Pillow crops); default: DCT scaling when crops allow.") var noDctScaling = false
    @Option(help: "Python with torch/torchvision/Pillow: also time the Pillow pipeline.") var compareTorch: String?
    @Option(help: "Path to bench_data_pillow.py.") var torchScript: String = "tools/reference/bench_data_pillow.py"

    func validate() throws {
        if dataset.defaultPath == nil && dataPath == nil { throw ValidationError("--dataset \(dataset) needs --data-path (\(dataset.installHint))") }
        if threads < 1 || batch < 1 || batches < 1 { throw ValidationError("--threads, --batch and --batches must be ≥ 1") }
    }

    func run() throws {
        let source: ImageSource
        let dataPath = self.dataPath ?? dataset.defaultPath ?? ""
        do { source = try dataset.trainingImages(at: dataPath) } catch { throw CLIError("\(error)") }
        let mean = dataset.mean, std = dataset.std
        let config = MultiCropConfig(globalSize: globalSize, localSize: localSize, localCrops: localCrops,
                                     globalScale: globalCropsScale, localScale: localCropsScale, mean: mean, std: std)
        if let p = config.problem() { throw ValidationError(p) }
        let sampler = EpochSampler(count: source.count, worldSize: 1, rank: 0, batchPerRank: batch, seed: 0)
        guard sampler.iterationsPerEpoch > batches else { throw CLIError("the dataset has only \(sampler.iterationsPerEpoch) batches of \(batch)") }
        let loader = MultiCropLoader(source: source, sampler: sampler, config: config, seed: 0, threads: threads, dctScaling: !noDctScaling)
        loader.start(epoch: 0)
        _ = loader.next()                                  // warm-up
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<batches { _ = loader.next() }
        let s = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        loader.stop()
        let rate = Double(batch * batches) / s
        print("esvit bench data: \(dataset) \(dataPath) (\(source.count) images), batch \(batch), 2×\(globalSize) + \(localCrops)×\(localSize) px, \(threads) loader threads")
        print(String(format: "  Swift: %.0f images/s (%.0f per thread); %d of %d samples decoded at reduced size", rate, rate / Double(threads),
                     loader.reducedDecodes, batch * (batches + 1)))
        if let py = compareTorch {
            let normalisation: [String] = ["--mean"] + mean.map { "\($0)" } + ["--std"] + std.map { "\($0)" }
            let obj = try runTorchPeer(python: py, script: torchScript, threads: threads, arguments: [
                "--dataset", dataset.rawValue, "--data-path", dataPath, "--threads", "\(threads)", "--batch", "\(batch)", "--batches", "\(batches)",
                "--global-size", "\(globalSize)", "--local-size", "\(localSize)", "--local-crops", "\(localCrops)"] + normalisation)
            guard let pr = obj["images_s"] as? Double else { throw CLIError("the Pillow peer printed no images_s") }
            print(String(format: "  Pillow + torchvision (same run): %.0f images/s [%@]", pr, obj["versions"] as? String ?? ""))
            print(String(format: "  ratio Swift/Pillow: %.2f×", rate / pr))
        }
    }
}
