// `esvit bench step`: the options of the whole-training-step benchmark (ESBench/StepBench.swift).
import ArgumentParser
import ESBench
import ESModel
import ESOptions
import Foundation

struct BenchStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Whole training-step throughput (images/s) and its time split.",
        discussion: """
        Images/s counts the batch (distinct images) per step; each image contributes 2 global and \
        --local-crops local views. With --compare-torch PYTHON it also runs \
        tools/reference/bench_step.py (the same recipe in plain PyTorch, same threads) and prints the ratio. \
        Without --batch-split it then profiles --iters more steps and prints a bound: how much faster the \
        step would run with every linear layer at OpenBLAS's sgemm roof measured in the same process (the \
        rest as measured, and the rest free), and that bound against PyTorch.

        Example: esvit bench step --arch swin_mini --batch 64 --local-crops 6 --threads 2 --compare-torch .venv/bin/python
        """)

    @OptionGroup var archOptions: ArchOptions
    @Option(help: "Images per step (per rank).") var batch: Int = 64
    @Option(help: "Local crops per image (default: the architecture's, \(Architecture.swinMini.localCrops) for swin_mini).") var localCrops: Int?
    @Option(help: "Global crop size (default: the preset's construction size).") var globalSize: Int?
    @Option(help: "Local crop size (default: half the global size for swin_mini, \(Architecture.swinTiny.localSize(global: 224)) otherwise).") var localSize: Int?
    @Option(help: "Head hidden width (default: \(HeadConfig.cpu.hidden) for swin_mini, \(HeadConfig.imagenet.hidden) otherwise).") var hidden: Int?
    @Option(help: "Head bottleneck (default: \(HeadConfig.cpu.bottleneck) for swin_mini, \(HeadConfig.imagenet.bottleneck) otherwise).") var bottleneck: Int?
    @Option(help: "Head output dimension K (default: \(HeadConfig.cpu.outDim) for swin_mini, \(HeadConfig.imagenet.outDim) otherwise).") var outDim: Int?
    @Flag(help: "Turn the region loss off (view-only, DINO's loss).") var noDense = false
    @Option(help: "Compute threads.") var threads: Int = 1
    @Option(help: "Timed steps (after one warm-up).") var iters: Int = 3
    @Option(help: "Python with torch: also time the PyTorch reference step.") var compareTorch: String?
    @Option(help: "Path to bench_step.py.") var torchScript: String = "tools/reference/bench_step.py"
    @Option(help: "With --compare-torch: further rounds alternating this bench's timing and the reference's; prints every round's ratio and the median.") var rounds: Int = 1
    @Flag(help: "Print the backbone workspaces' per-buffer memory tables instead of timing.") var memory = false
    @Flag(help: "Split the batch across --threads: each thread takes whole parts of it through the backbone with one-thread kernels (heads and loss stay whole), instead of every kernel being split across the threads.")
    var batchSplit = false

    func bench() throws -> StepBench {
        var b = try asValidation { try StepBench(arch: archOptions.arch, backbone: try archOptions.config(), batch: batch, localCrops: localCrops,
                                                 globalSize: globalSize, localSize: localSize, hidden: hidden, bottleneck: bottleneck, outDim: outDim,
                                                 regionLoss: !noDense, threads: threads, iters: iters) }
        b.batchSplit = batchSplit
        return b
    }

    func validate() throws {
        _ = try bench()
        guard rounds >= 1 else { throw ValidationError("--rounds must be ≥ 1") }
    }

    func run() throws {
        let bench = try bench()
        guard let r = try cli({ try bench.run(memoryOnly: memory, say: { print($0) }) }) else { return }
        if let py = compareTorch { try cli { try bench.compare(r, with: TorchPeer(python: py, script: torchScript, threads: threads), rounds: rounds, say: { print($0) }) } }
    }
}
