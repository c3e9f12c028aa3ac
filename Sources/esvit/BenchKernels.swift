// `esvit bench kernels`: µs per call of each fast kernel's forward and backward at the sizes of
// the kernel case table (ESTestSupport/KernelCases.swift, the cases the tests check against the
// Double references), optionally with the row/batch dimension enlarged by --scale.
import ArgumentParser
import ESKernels
import ESTestSupport
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

    func validate() throws {
        if scale < 1 || threads < 1 || samples < 1 { throw ValidationError("--scale, --threads and --samples must be ≥ 1") }
        if !(minMs > 0) { throw ValidationError("--min-ms must be > 0") }
    }

    func run() throws {
        let all = KernelCases.all(scale: scale), cases = all.filter { kernel == nil || $0.kernel == kernel }
        if cases.isEmpty {
            var names: [String] = []
            for c in all where !names.contains(c.kernel) { names.append(c.kernel) }
            throw ValidationError("--kernel \(kernel ?? ""): no such kernel (\(names.joined(separator: ", ")))")
        }
        Compute.setThreads(threads)
        print("esvit bench kernels: \(cpuModelName()), OpenBLAS \(BLASSetup.coreName) kernels, threads \(threads), scale \(scale)")
        let width = cases.map { $0.size.count }.max() ?? 0
        for c in cases {
            let fast = c.instantiate()
            let forward = microseconds(fast.forward)
            fast.forward()
            let backward = microseconds(fast.backward)
            let label = c.kernel.padding(toLength: 10, withPad: " ", startingAt: 0) + c.size.padding(toLength: width, withPad: " ", startingAt: 0)
            print("  " + label + String(format: "   forward %10.2f µs   backward %10.2f µs", forward, backward))
        }
    }

    /// Median µs per call of `body` over `samples` runs of `reps` calls, `reps` chosen (doubling)
    /// so that one run lasts at least --min-ms. Nothing is allocated while timing.
    func microseconds(_ body: () -> Void) -> Double {
        body()
        let minNs = UInt64(minMs * 1e6)
        var reps = 1
        while true {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<reps { body() }
            if DispatchTime.now().uptimeNanoseconds - t0 >= minNs || reps >= 1 << 30 { break }
            reps *= 2
        }
        var ns = [UInt64](repeating: 0, count: samples)
        for s in 0..<samples {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<reps { body() }
            ns[s] = DispatchTime.now().uptimeNanoseconds - t0
        }
        ns.sort()
        return Double(ns[samples / 2]) / Double(reps) / 1e3
    }
}

/// The CPU's model name ("model name" in /proc/cpuinfo), or "unknown CPU".
func cpuModelName() -> String {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
          let colon = line.firstIndex(of: ":") else { return "unknown CPU" }
    return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
}
