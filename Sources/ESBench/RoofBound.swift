// How far a step could go on this machine if its linear layers ran at the sgemm roof: a bound
// from one profiled pass (the layers' FLOPs and seconds, the step's wall time) and OpenBLAS's own
// 1024³ rate measured in the same process. It names the limit a speed target meets: a step whose
// bound is below the target cannot reach it by faster linear layers alone. The window attention's
// own products are not linear layers and count as the rest.
import ESKernels
import Foundation

public struct RoofBound: Equatable, Sendable {
    /// Per step: the linear layers' FLOPs and seconds, and the whole step's seconds.
    public var gemmFLOPs: Double, gemmSeconds: Double, stepSeconds: Double
    /// OpenBLAS's sgemm rate at the same threads, GFLOP/s.
    public var roof: Double

    public init(gemmFLOPs: Double, gemmSeconds: Double, stepSeconds: Double, roof: Double) {
        self.gemmFLOPs = gemmFLOPs; self.gemmSeconds = gemmSeconds; self.stepSeconds = stepSeconds; self.roof = roof
    }

    /// The linear layers' rate, GFLOP/s.
    public var gemmRate: Double { gemmFLOPs / max(gemmSeconds, 1e-12) / 1e9 }
    /// Seconds of the linear layers' work at the roof.
    public var gemmAtRoofSeconds: Double { gemmFLOPs / (roof * 1e9) }
    /// Seconds per step with every linear layer at the roof and the rest as measured.
    public var atRoofSeconds: Double { gemmAtRoofSeconds + max(0, stepSeconds - gemmSeconds) }
    /// How many times faster than measured the step would run at the roof (rest as measured), and
    /// with nothing but the linear layers at the roof.
    public var speedupAtRoof: Double { stepSeconds / atRoofSeconds }
    public var speedupLinearOnly: Double { stepSeconds / gemmAtRoofSeconds }

    /// Profiles `passes` runs of `step`, then measures the roof at `threads`. Linear layers inside
    /// a batch split's threads are not counted by the profiler, so callers use the per-op split.
    public static func measure(passes: Int, threads: Int, _ step: () throws -> Void) rethrows -> RoofBound {
        let ops = try OpSplit.measure(iters: passes, wall: nil, step), n = Double(passes)
        return RoofBound(gemmFLOPs: ops.gemmFLOPs / n, gemmSeconds: ops.seconds[OpFamily.gemm.rawValue] / n,
                         stepSeconds: ops.wall / n, roof: Measure.sgemmRoof(threads: threads))
    }

    /// The report's two lines; `images` per step turns seconds into images/s.
    public func lines(images: Int) -> [String] {
        [String(format: "  linear layers: %.1f GFLOP per step at %.1f GFLOP/s, %.0f%% of the step's time; sgemm roof %.1f GFLOP/s (they run at %.0f%% of it)",
                gemmFLOPs / 1e9, gemmRate, 100 * gemmSeconds / max(stepSeconds, 1e-12), roof, 100 * gemmRate / roof),
         String(format: "  bound: every linear layer at the roof, the rest as measured: %.2f× this step (%.1f img/s); the rest free as well: %.2f×",
                speedupAtRoof, Double(images) / atRoofSeconds, speedupLinearOnly)]
    }
}
