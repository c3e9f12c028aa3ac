// `esvit bench data`: the options of the input-pipeline benchmark (ESBench/DataBench.swift).
import ArgumentParser
import ESData
import ESBench
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

    func bench() throws -> DataBench {
        try asValidation { try DataBench(dataset: dataset, dataPath: dataPath, globalSize: globalSize, localSize: localSize, localCrops: localCrops,
                                         globalScale: globalCropsScale, localScale: localCropsScale, threads: threads, batch: batch,
                                         batches: batches, dctScaling: !noDctScaling) }
    }

    func validate() throws { _ = try bench() }

    func run() throws {
        let bench = try bench()
        let rate = try cli { try bench.run(say: { print($0) }) }
        if let py = compareTorch { try cli { try bench.compare(rate, with: TorchPeer(python: py, script: torchScript, threads: threads), say: { print($0) }) } }
    }
}
