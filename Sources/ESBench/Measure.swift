// How the benchmarks time and describe the machine: the median of timed runs after a warm-up
// (the clock is injected so the rule can be tested), µs per call of a short kernel, the CPU's
// model name, and OpenBLAS's own sgemm rate as the roof measured in the same process.
import COpenBLAS
import ESKernels
import Foundation

/// A monotonic clock in nanoseconds (the benchmarks' only time source).
public typealias Nanoseconds = () -> UInt64

public enum Measure {
    public static let monotonic: Nanoseconds = { DispatchTime.now().uptimeNanoseconds }

    /// Median seconds of `iters` timed runs of `body`, after one untimed warm-up run.
    public static func medianSeconds(iters: Int, clock: Nanoseconds = monotonic, _ body: () -> Void) -> Double {
        body()
        var samples: [Double] = []
        for _ in 0..<max(iters, 1) {
            let t0 = clock()
            body()
            samples.append(Double(clock() - t0) * 1e-9)
        }
        return samples.sorted()[samples.count / 2]
    }

    /// Median µs per call of `body` over `samples` runs of `reps` calls, `reps` chosen (doubling)
    /// so that one run lasts at least `minMs`. Nothing is allocated while timing.
    public static func microsecondsPerCall(samples: Int, minMs: Double, clock: Nanoseconds = monotonic, _ body: () -> Void) -> Double {
        body()
        let minNs = UInt64(minMs * 1e6)
        var reps = 1
        while true {
            let t0 = clock()
            for _ in 0..<reps { body() }
            if clock() - t0 >= minNs || reps >= 1 << 30 { break }
            reps *= 2
        }
        var ns = [UInt64](repeating: 0, count: max(samples, 1))
        for s in 0..<ns.count {
            let t0 = clock()
            for _ in 0..<reps { body() }
            ns[s] = clock() - t0
        }
        ns.sort()
        return Double(ns[ns.count / 2]) / Double(reps) / 1e3
    }

    /// The closing line of a comparison in alternating rounds: the median ratio and every round's.
    public static func roundsLine(_ ratios: [Double]) -> String {
        String(format: "  ratio over %d rounds: median %.2f× (", ratios.count, ratios.sorted()[ratios.count / 2])
            + ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ") + ")"
    }

    /// OpenBLAS's own multi-threaded sgemm (1024³, best of 4) at `threads` threads, in GFLOP/s.
    /// The engine keeps OpenBLAS single-threaded and splits products itself, so the roof sets
    /// OpenBLAS's threads explicitly and restores one thread after.
    public static func sgemmRoof(threads: Int) -> Double {
        openblas_set_num_threads(Int32(threads))
        defer { openblas_set_num_threads(1) }
        let n = 1024
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
        var best = 0.0
        for _ in 0..<4 {
            let t0 = monotonic()
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a.pointer, Int32(n),
                        b.pointer, Int32(n), 0, c.pointer, Int32(n))
            best = max(best, 2 * Double(n * n * n) / (Double(monotonic() - t0) * 1e-9) / 1e9)
        }
        return best
    }
}

public enum Machine {
    /// The CPU's model name ("model name" in /proc/cpuinfo; "unknown CPU" without one), with its
    /// family and model numbers and vector extension (a VM may name only "AMD EPYC", which covers
    /// Zen 3 with AVX2 and Zen 4/5 with AVX-512).
    public static var cpuModel: String {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        let lines = info.split(separator: "\n")
        func field(_ key: String) -> String? {
            guard let line = lines.first(where: { $0.hasPrefix(key) }), let colon = line.firstIndex(of: ":") else { return nil }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        guard let name = field("model name") else { return "unknown CPU" }
        let flags = Set((field("flags") ?? "").split(separator: " "))
        let isa = flags.contains("avx512f") ? "AVX-512" : flags.contains("avx2") ? "AVX2" : "no AVX2"
        return "\(name) (family \(field("cpu family") ?? "?") model \(field("model\t") ?? "?"), \(isa))"
    }

    /// This process's peak resident set so far (getrusage's ru_maxrss, KiB on Linux), in bytes.
    public static var peakRSSBytes: Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return u.ru_maxrss * 1024
    }

    /// One line for every benchmark's header: CPU, OpenBLAS kernel set, the small-GEMM engine, the date.
    public static var summary: String {
        let date = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
        return "\(cpuModel), OpenBLAS \(BLASSetup.coreName) kernels\(BLASSetup.userChoiceNote == nil ? "" : " (set by OPENBLAS_CORETYPE)"), small GEMMs \(SmallGEMM.engine.rawValue), \(date)"
    }
}

public enum BenchError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String { if case .invalid(let m) = self { return m }; return "" }
}
