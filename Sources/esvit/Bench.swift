// `esvit bench`: the benchmark commands' options; the benchmarks themselves live in ESBench and
// print ratios against references measured in the same run (OpenBLAS sgemm as the roof;
// optionally the PyTorch peers).
import ArgumentParser
import ESBench
import ESModel
import ESOptions
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (images/s, GFLOP/s, time split) against references measured in the same run.",
        subcommands: [BenchSwin.self, BenchStep.self, BenchPretrain.self, BenchData.self, BenchKernels.self])
}

struct BenchSwin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swin",
        abstract: "Swin backbone forward and forward+backward throughput.",
        discussion: """
        Prints images/s for a no-grad forward and for forward+backward (training workspace, no \
        DropPath), the achieved GFLOP/s (matrix products only; backward counted as 2× forward), the \
        split of time by op family, and OpenBLAS sgemm GFLOP/s (1024³) measured in this process with \
        the same threads as the roof. With --compare-torch PYTHON it also runs \
        tools/reference/bench_timm_swin.py (timm's Swin, same shape, batch and threads, fp32, train \
        mode) and prints the ratio. With --memory it only prints where the two workspaces' bytes go \
        (one row per buffer: shape, lifetime, regions, bytes, share).

        Example: esvit bench swin --arch swin_tiny --batch 8 --threads 2 --compare-torch .venv/bin/python
        """)

    @OptionGroup var archOptions: ArchOptions
    @Option(help: "Images per batch.") var batch: Int = 64
    @Option(help: "Input size (default: the preset's construction size).") var imageSize: Int?
    @Option(help: "Compute threads (Swift kernels and OpenBLAS).") var threads: Int = 1
    @Option(help: "Timed iterations per measurement (after one warm-up).") var iters: Int = 5
    @Option(help: "Python with torch and timm: also time timm's Swin on the same config.") var compareTorch: String?
    @Option(help: "Path to bench_timm_swin.py (default: tools/reference/ under the current folder).") var torchScript: String = "tools/reference/bench_timm_swin.py"
    @Flag(help: "Print the training and no-grad workspaces' per-buffer memory tables instead of timing.") var memory = false

    func bench() throws -> SwinBench {
        try asValidation { try SwinBench(config: try archOptions.config(), arch: archOptions.arch.rawValue, size: imageSize, batch: batch,
                                         threads: threads, iters: iters) }
    }

    func validate() throws { _ = try bench() }

    func run() throws {
        let bench = try bench()
        if memory { return bench.memoryReport(say: { print($0) }) }
        let r = bench.run(say: { print($0) })
        if let py = compareTorch { try cli { try bench.compare(r, with: TorchPeer(python: py, script: torchScript, threads: threads), say: { print($0) }) } }
    }
}
