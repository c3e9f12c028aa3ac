// Central finite differences on Double functions: the oracle for every backward.
// For a scalar loss f(x) = Σ_k w_k · F(x)_k with fixed random weights w, the analytic gradient
// of the reference backward (called with dy = w) must equal (f(x + h e_i) − f(x − h e_i)) / 2h.
import ESKernelCases
import ESKernels

public enum FiniteDifference {
    /// Max relative error between `analytic` and the numerical gradient of `f` at `x`,
    /// measured as |a − n| / max(1e-3, |a| + |n|) over all (or `maxProbes`) coordinates.
    public static func check(_ x: [Double], analytic: [Double], step h: Double = 1e-5,
                             maxProbes: Int = 400, _ f: ([Double]) -> Double) -> (maxRelError: Double, worst: Int) {
        precondition(x.count == analytic.count)
        var worst = 0, maxErr = 0.0
        let stride = max(1, x.count / maxProbes)
        var xp = x
        for i in Swift.stride(from: 0, to: x.count, by: stride) {
            let orig = xp[i]
            xp[i] = orig + h; let fp = f(xp)
            xp[i] = orig - h; let fm = f(xp)
            xp[i] = orig
            let num = (fp - fm) / (2 * h)
            let err = abs(num - analytic[i]) / max(1e-3, abs(num) + abs(analytic[i]))
            if err > maxErr { maxErr = err; worst = i }
        }
        return (maxErr, worst)
    }

    /// Deterministic pseudo-random Doubles in [−1, 1) for test inputs (the kernel cases' stream).
    public static func randoms(_ n: Int, seed: UInt64) -> [Double] { KernelInputs.randoms(n, seed: seed) }

    public static func weighted(_ y: [Double], _ w: [Double]) -> Double { zip(y, w).reduce(0) { $0 + $1.0 * $1.1 } }
}
