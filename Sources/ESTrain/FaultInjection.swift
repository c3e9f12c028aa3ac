// Faults injected into a training run, to prove that every rank stops cleanly: a non-finite
// loss or a parameter perturbation on one rank at one iteration, and a gradient dump for the
// data-parallel equivalence tests. The trainer only sees the protocol; `esvit pretrain` builds
// the environment-driven one (test hooks, not for normal use):
//   ESVIT_FAULT=nan@ITER[:RANK],desync@ITER[:RANK]   ESVIT_DUMP_GRADIENTS=DIR
// (a machine that slows down is simulated with an injected RunClock instead).
import Foundation

public protocol FaultInjection: Sendable {
    /// This rank's loss at `iteration` becomes NaN.
    func poisonsLoss(at iteration: Int) -> Bool
    /// This rank's parameters are perturbed after the update of `iteration`.
    func desyncs(at iteration: Int) -> Bool
    /// Rank 0 writes every iteration's averaged gradient to DIR/grads<ITER>.safetensors.
    var gradientDumpFolder: String? { get }
}

/// The faults named by ESVIT_FAULT and ESVIT_DUMP_GRADIENTS for rank `rank` (nil: none).
public struct EnvironmentFaults: FaultInjection {
    var nanAt: Int? = nil, desyncAt: Int? = nil
    public var gradientDumpFolder: String? = nil

    public init?(environment env: [String: String], rank: Int) {
        gradientDumpFolder = env["ESVIT_DUMP_GRADIENTS"]
        guard let spec = env["ESVIT_FAULT"] else { if gradientDumpFolder == nil { return nil } else { return } }
        for part in spec.split(separator: ",") {
            let kv = part.split(separator: "@")
            guard kv.count == 2 else { continue }
            let rest = kv[1].split(separator: ":")
            guard let at = Int(rest[0]) else { continue }
            if rest.count > 1, let r = Int(rest[1]), r != rank { continue }
            if kv[0] == "nan" { nanAt = at } else if kv[0] == "desync" { desyncAt = at }
        }
    }

    public func poisonsLoss(at iteration: Int) -> Bool { nanAt == iteration }
    public func desyncs(at iteration: Int) -> Bool { desyncAt == iteration }
}
