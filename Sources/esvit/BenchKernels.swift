// `esvit bench kernels`: the options of the kernel-table benchmark (ESBench/KernelBench.swift).
import ArgumentParser
import ESBench
import Foundation

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Time each kernel case's fast forward and backward (µs per call).",
        discussion: """
        The cases are the test table's (linear, layernorm, gelu, softmax, attention at awkward \
        sizes); --scale N multiplies their row/batch dimension (rows, elements, windows). Each \
        figure is the median of --samples timed runs, each run repeating the call until it lasts \
        at least --min-ms (after one warm-up call). Backward is timed after one forward; kernels \
        that accumulate gradients keep accumulating, which does not change their cost.

        Example: esvit bench kernels --scale 64 --threads 2 --kernel attention
        """)

    @Option(help: "Multiply each case's row/batch dimension by this.") var scale: Int = 1
    @Option(help: "Compute threads.") var threads: Int = 1
    @Option(help: "Only the cases of this kernel (linear, layernorm, gelu, softmax, attention).") var kernel: String?
    @Option(help: "Timed runs per figure (the median is printed).") var samples: Int = 5
    @Option(help: "Minimum duration of one timed run, in milliseconds.") var minMs: Double = 5

    func bench() throws -> KernelBench {
        try asValidation { try KernelBench(scale: scale, threads: threads, kernel: kernel, samples: samples, minMs: minMs) }
    }

    func validate() throws { _ = try bench() }

    func run() throws { try bench().run(say: { print($0) }) }
}
