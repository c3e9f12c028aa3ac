// A PyTorch peer benchmark: a script under tools/reference run with the same thread count, whose
// last output line is one JSON object of figures. The benchmarks print its figures beside their
// own and the ratio, measured in the same run.
import ESModel
import Foundation

public struct TorchPeer {
    public let python: String, script: String, threads: Int
    /// Arguments to python before the script (e.g. `-m torch.distributed.run --nproc_per_node 2`).
    public let launcher: [String]

    public init(python: String, script: String, threads: Int, launcher: [String] = []) {
        self.python = python; self.script = script; self.threads = threads; self.launcher = launcher
    }

    /// Runs the script with `arguments` and OMP_NUM_THREADS = threads; returns its last line's JSON object.
    public func run(_ arguments: [String]) throws -> [String: Any] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = launcher + [script] + arguments
        var env = ProcessInfo.processInfo.environment
        env["OMP_NUM_THREADS"] = "\(threads)"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { throw BenchError.invalid("cannot start \(python): \(error.localizedDescription)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let line = String(data: data, encoding: .utf8)?.split(separator: "\n").last,
              let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw BenchError.invalid("the PyTorch peer (\(python) \(script)) failed; run it by hand to see why")
        }
        return obj
    }

    /// The figures `keys` of one run (each a number in the JSON) and its "versions" string.
    public func figures(_ arguments: [String], _ keys: [String]) throws -> (values: [Double], versions: String) {
        let obj = try run(arguments)
        let values = try keys.map { k -> Double in
            guard let v = (obj[k] as? NSNumber)?.doubleValue else { throw BenchError.invalid("the PyTorch peer (\(python) \(script)) printed no \(k)") }
            return v
        }
        return (values, obj["versions"] as? String ?? "")
    }
}

extension SwinConfig {
    /// The backbone's shape as the peer scripts' options (both bench_timm_swin.py and bench_step.py).
    var peerShapeArguments: [String] {
        ["--patch-size", "\(patchSize)", "--embed-dim", "\(embedDim)", "--depths", depths.map(String.init).joined(separator: ","),
         "--num-heads", numHeads.map(String.init).joined(separator: ","), "--window-size", "\(windowSize)"]
    }
}
