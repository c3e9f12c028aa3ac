// Opt-in wall-clock accounting by op family for benchmarks (`esvit bench`). Kernels bracket
// their body with start/stop; when disabled this is one branch per kernel call. Calls from the
// threads of a batch split are not counted (the sums are not thread-safe).
import Foundation

public enum OpFamily: Int, CaseIterable, Sendable {
    case gemm, attention, layerNorm, gelu, layout, residual

    public var label: String {
        switch self {
        case .gemm: return "linear (sgemm)"
        case .attention: return "window attention"
        case .layerNorm: return "layernorm"
        case .gelu: return "gelu"
        case .layout: return "window/merge/im2col copies"
        case .residual: return "residual/droppath/pool"
        }
    }
}

public enum Profiler {
    nonisolated(unsafe) public static var enabled = false
    nonisolated(unsafe) public private(set) static var seconds = [Double](repeating: 0, count: OpFamily.allCases.count)

    /// Floating-point operations issued by the linear layers while enabled.
    nonisolated(unsafe) public private(set) static var gemmFLOPs = 0.0

    public static func reset() { seconds = [Double](repeating: 0, count: OpFamily.allCases.count); gemmFLOPs = 0 }

    @inline(__always) public static func countGEMM(_ flops: Double) { if enabled && !Compute.inSplit { gemmFLOPs += flops } }

    @inline(__always) public static func start() -> UInt64 { enabled && !Compute.inSplit ? DispatchTime.now().uptimeNanoseconds : 0 }

    @inline(__always) public static func stop(_ f: OpFamily, _ t0: UInt64) {
        if enabled && t0 != 0 { seconds[f.rawValue] += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 }
    }
}
