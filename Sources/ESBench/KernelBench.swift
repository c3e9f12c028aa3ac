// `esvit bench kernels`: µs per call of each fast kernel's forward and backward at the sizes of
// the kernel case table (ESTestSupport/KernelCases.swift, the cases the tests check against the
// Double references), optionally with the row/batch dimension enlarged by a scale.
import ESKernels
import ESKernelCases
import Foundation

public struct KernelBench {
    public var scale: Int, threads: Int, kernel: String?, samples: Int, minMs: Double
    let cases: [KernelCase]

    public init(scale: Int, threads: Int, kernel: String?, samples: Int, minMs: Double) throws {
        guard scale >= 1, threads >= 1, samples >= 1 else { throw BenchError.invalid("--scale, --threads and --samples must be ≥ 1") }
        guard minMs > 0 else { throw BenchError.invalid("--min-ms must be > 0") }
        let all = KernelCases.all(scale: scale)
        cases = all.filter { kernel == nil || $0.kernel == kernel }
        if cases.isEmpty {
            var names: [String] = []
            for c in all where !names.contains(c.kernel) { names.append(c.kernel) }
            throw BenchError.invalid("--kernel \(kernel ?? ""): no such kernel (\(names.joined(separator: ", ")))")
        }
        self.scale = scale; self.threads = threads; self.kernel = kernel; self.samples = samples; self.minMs = minMs
    }

    public func run(say: (String) -> Void) {
        Compute.setThreads(threads)
        say("esvit bench kernels: \(Machine.summary), threads \(threads), scale \(scale)")
        let width = cases.map { $0.size.count }.max() ?? 0
        for c in cases {
            let fast = c.instantiate()
            let forward = Measure.microsecondsPerCall(samples: samples, minMs: minMs, fast.forward)
            fast.forward()
            let backward = Measure.microsecondsPerCall(samples: samples, minMs: minMs, fast.backward)
            let label = c.kernel.padding(toLength: 10, withPad: " ", startingAt: 0) + c.size.padding(toLength: width, withPad: " ", startingAt: 0)
            say("  " + label + String(format: "   forward %10.2f µs   backward %10.2f µs", forward, backward))
        }
    }
}
