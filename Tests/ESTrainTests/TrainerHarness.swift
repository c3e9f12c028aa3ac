// Shared pieces of the trainer tests: a tiny but real pretraining configuration on Fashion-MNIST
// (swin_mini backbone, small heads, 2 local crops, flat schedules so a few steps move the
// weights), ways to run `esvit pretrain` as one process or under launch/run-node.sh, and
// readers for what a run leaves behind (log.txt losses, checkpoint tensors).
import ArgumentParser
import ESDistributed
import ESModel
@testable import ESTrain
import ESTestSupport
import Foundation
import XCTest

enum Harness {
    /// Options of the tiny run (everything but batch, output folder and stopping point).
    static let tiny = ["--arch", "swin_mini", "--out-dim", "256", "--hidden-dim", "64", "--bottleneck-dim", "32",
                       "--local-crops-number", "2", "--epochs", "1", "--warmup-epochs", "0", "--warmup-teacher-temp-epochs", "0",
                       "--freeze-last-layer", "0", "--lr", "0.05", "--log-every", "1", "--saveckp-iters", "0", "--check-every", "1",
                       "--threads", "1", "--loader-threads", "1"]

    static var haveData: Bool { FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") }

    /// esvit pretrain as one plain process.
    static func single(_ args: [String], env: [String: String] = [:], timeout: TimeInterval = 300) throws -> (Int32, String) {
        try TestProcess.run(TestProcess.esvit, ["pretrain"] + args, env: env, timeout: timeout)
    }

    /// esvit pretrain's library path in this process, with the single-process communicator:
    /// parse and validate the options (a refusal is exit code 64, as the command's), then train.
    /// For runs that need neither MPI nor signals.
    static func inProcess(_ args: [String]) -> (Int32, String) {
        final class Lines: @unchecked Sendable { var all: [String] = [] }
        let lines = Lines()
        do {
            let options = try PretrainOptions.parse(args)
            let code = Pretraining.run(options, comm: SingleProcessCommunicator(), startedAt: Trainer.now(),
                                       say: { lines.all.append($0) }, report: { lines.all.append($0) })
            return (code, lines.all.joined(separator: "\n"))
        } catch {
            return (64, PretrainOptions.message(for: error))
        }
    }

    /// esvit pretrain under launch/run-node.sh with `ranks` ranks on this node.
    static func ranks(_ n: Int, _ args: [String], env: [String: String] = [:], timeout: TimeInterval = 300) throws -> (Int32, String) {
        try TestProcess.run("/bin/bash", [TestProcess.root + "/launch/run-node.sh", "-n", "\(n)", "--", "pretrain"] + args, env: env, timeout: timeout)
    }

    /// Per-iteration losses from log.txt (needs --log-every 1), keyed by iteration.
    static func losses(_ dir: String) throws -> [Int: Double] {
        let text = try String(contentsOfFile: dir + "/log.txt", encoding: .utf8)
        var out: [Int: Double] = [:]
        for line in text.split(separator: "\n") {
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let it = o["iteration"] as? Int, let l = o["loss"] as? Double else { continue }
            out[it] = l
        }
        return out
    }

    /// Every tensor of a checkpoint by name.
    static func tensors(_ path: String) throws -> [String: [Float]] {
        let f = try SafeTensorsFile(path: path)
        var out: [String: [Float]] = [:]
        for name in f.tensors.keys where f.tensors[name]!.dtype == "F32" { out[name] = try f.floats(name) }
        return out
    }

    /// Largest |a − b| over tensors whose names start with one of `prefixes`; infinite when the
    /// two hold different names (or shapes) under those prefixes.
    static func maxDifference(_ a: [String: [Float]], _ b: [String: [Float]], prefixes: [String]) -> Float {
        func names(_ t: [String: [Float]]) -> Set<String> { Set(t.keys.filter { k in prefixes.contains { k.hasPrefix($0) } }) }
        guard names(a) == names(b) else { return .infinity }
        var worst: Float = 0
        for (k, x) in a where prefixes.contains(where: { k.hasPrefix($0) }) {
            guard let y = b[k], y.count == x.count else { return .infinity }
            for i in 0..<x.count { worst = max(worst, abs(x[i] - y[i])) }
        }
        return worst
    }
}
