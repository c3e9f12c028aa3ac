// OpenBLAS kernel selection and a start-up self-check.
//
// OpenBLAS picks its kernels from CPUID when the library loads. Builds such as Debian's 0.3.21
// do not recognise newer CPUs and fall back to generic SSE3 ("Prescott") kernels: measured on
// an AVX-512 Xeon, 55 GFLOP/s sgemm on 2 cores instead of ~210 with the SkylakeX kernels.
// OPENBLAS_CORETYPE can only be set before the library loads, so when it is unset and the
// detected core is weaker than the CPU's flags allow, `esvit` sets it and re-executes itself
// once (before MPI or any thread starts). A user-set OPENBLAS_CORETYPE is always respected.
import COpenBLAS
import Foundation

public enum BLASSetup {
    /// Capability level of an OpenBLAS core name (1 SSE, 2 AVX, 3 AVX2/FMA, 4 AVX-512).
    static func level(_ core: String) -> Int {
        switch core.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return 4
        case "haswell", "zen", "zen2", "zen3": return 3
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": return 2
        default: return 1
        }
    }

    /// The best OpenBLAS core name for the flags in /proc/cpuinfo (nil when unknown).
    static func bestCore() -> String? {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(line.split(separator: " ").map(String.init))
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }

    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// Call first thing in `main`. May not return (re-exec). Returns a one-line note to print
    /// when the kernels were switched (after the re-exec), else nil.
    public static func selectKernels() -> String? {
        let env = ProcessInfo.processInfo.environment
        if env["ESVIT_BLAS_REEXEC"] != nil {
            let detected = env["ESVIT_BLAS_DETECTED"] ?? "?"
            // Children (benchmark peers, nested esvit) inherit OPENBLAS_CORETYPE, not the marker.
            unsetenv("ESVIT_BLAS_REEXEC"); unsetenv("ESVIT_BLAS_DETECTED")
            return "note: OpenBLAS did not recognise this CPU (it chose \(detected) kernels); using \(coreName) kernels. Set OPENBLAS_CORETYPE to choose yourself."
        }
        guard env["OPENBLAS_CORETYPE"] == nil, let best = bestCore(), level(best) > level(coreName) else { return nil }
        setenv("ESVIT_BLAS_DETECTED", coreName, 1)
        setenv("ESVIT_BLAS_REEXEC", "1", 1)
        setenv("OPENBLAS_CORETYPE", best, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv only returns on failure: keep the detected kernels.
        unsetenv("ESVIT_BLAS_REEXEC"); unsetenv("OPENBLAS_CORETYPE")
        return nil
    }

    /// When OPENBLAS_CORETYPE is set in the environment to kernels weaker than this CPU allows
    /// (seen: a machine image exporting OPENBLAS_CORETYPE=Haswell on an AVX-512 EPYC, where the
    /// SkylakeX kernels ran sgemm 1.66× faster), a one-line hint; nil otherwise. The setting is
    /// respected either way.
    public static var userChoiceNote: String? {
        guard let set = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"],
              ProcessInfo.processInfo.environment["ESVIT_BLAS_DETECTED"] == nil,
              let best = bestCore(), level(best) > level(coreName) else { return nil }
        return "OPENBLAS_CORETYPE=\(set) is set in the environment; this CPU also runs \(best) kernels (unset OPENBLAS_CORETYPE to let esvit choose them)"
    }

    /// Checks sgemm against a Double product on awkward sizes; returns a message on failure.
    public static func selfCheck() -> String? {
        let M = 67, K = 53, N = 71
        var rng = KeyedRandom(42)
        let a = (0..<(M * K)).map { _ in Float(rng.uniform(-1, 1)) }, b = (0..<(N * K)).map { _ in Float(rng.uniform(-1, 1)) }
        var c = [Float](repeating: 0, count: M * N)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(M), Int32(N), Int32(K), 1, a, Int32(K), b, Int32(K), 0, &c, Int32(N))
        var worst = 0.0
        for i in 0..<M { for j in 0..<N {
            var s = 0.0
            for k in 0..<K { s += Double(a[i * K + k]) * Double(b[j * K + k]) }
            worst = max(worst, abs(s - Double(c[i * N + j])))
        } }
        return worst < 1e-4 ? nil
            : "OpenBLAS (\(coreName) kernels) computed a wrong sgemm (max error \(worst)); set OPENBLAS_CORETYPE=Haswell (or another core) and retry"
    }
}
