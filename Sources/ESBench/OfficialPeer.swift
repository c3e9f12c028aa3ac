// The official EsViT code as `esvit bench pretrain`'s peer (--compare-official DIR): the same
// recipe through tools/official/run_official.py, which imports microsoft/esvit's main_esvit.py,
// Swin, heads, loss, augmentation and train_one_epoch from DIR and runs them on CPU. One run per
// launch (one process × N threads, or torchrun with N processes; 0 or 1 DataLoader workers);
// images/s is taken as esvit's is (the median of 10-iteration windows after the first, from the
// run's per-iteration step times), and the peak memory of its processes is sampled from /proc.
import ESData
import ESKernels
import Foundation

extension PretrainBench {
    /// Where the official code runs from: its checkout, the harness and the Python to run it with.
    public struct Official {
        public var repo: String, python: String, script: String
        public init(repo: String, python: String, script: String) { self.repo = repo; self.python = python; self.script = script }
    }

    /// The harness's options for this bench's recipe and launch `l`.
    func officialArguments(_ l: Launch, _ o: Official, outputDir: String) throws -> [String] {
        let c = config, b = c.backbone
        guard c.dataset == .fashionMNIST else {
            throw BenchError.invalid("--compare-official times Fashion-MNIST recipes only (the preset trains on \(c.dataset.rawValue))")
        }
        let recipe = ["--esvit-repo", o.repo, "--data-path", c.dataPath, "--iterations", "\(iterations)",
                      "--batch-size", "\(c.batchSizePerRank * ranks)", "--threads", "\(ranks / l.processes)", "--num-workers", "\(l.workers)",
                      "--global-size", "\(c.crops.globalSize)", "--local-size", "\(c.crops.localSize)", "--local-crops-number", "\(c.crops.localCrops)",
                      "--out-dim", "\(c.head.outDim)", "--hidden-dim", "\(c.head.hidden)", "--bottleneck-dim", "\(c.head.bottleneck)",
                      "--use-dense-prediction", "\(c.useDensePrediction)", "--log-every", "\(iterations)", "--output-dir", outputDir]
            + ["--blur-sigma"] + c.crops.blurSigma.map { "\($0)" }
        // The backbone's shape as the official YAML's keys (main_esvit.py's trailing opts).
        let shape = ["MODEL.SPEC.PATCH_SIZE", "\(b.patchSize)", "MODEL.SPEC.DIM_EMBED", "\(b.embedDim)",
                     "MODEL.SPEC.DEPTHS", "[\(b.depths.map(String.init).joined(separator: ","))]",
                     "MODEL.SPEC.NUM_HEADS", "[\(b.numHeads.map(String.init).joined(separator: ","))]", "MODEL.SPEC.WINDOW_SIZE", "\(b.windowSize)"]
        let torchrun = l.processes > 1 ? ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "\(l.processes)"] : []
        return torchrun + [o.script] + recipe + shape
    }

    /// One run of the official code in launch `l`.
    public func officialPeer(_ l: Launch, _ o: Official) throws -> (Throughput, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("esvit-bench-official-\(getpid())-\(l.processes)-\(l.workers)").path
        try? FileManager.default.removeItem(atPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: o.python)
        p.arguments = try officialArguments(l, o, outputDir: dir)
        var env = ProcessInfo.processInfo.environment
        env["OMP_NUM_THREADS"] = "\(ranks / l.processes)"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out; p.standardError = out
        do { try p.run() } catch { throw BenchError.invalid("cannot start \(o.python): \(error.localizedDescription)") }
        let sampler = TreeMemorySampler(root: p.processIdentifier)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let memory = sampler.stop()
        guard p.terminationStatus == 0, let log = try? String(contentsOfFile: dir + "/log.txt", encoding: .utf8) else {
            throw BenchError.invalid("the official code failed (exit \(p.terminationStatus)); its last lines:\n"
                                     + text.split(separator: "\n").suffix(8).joined(separator: "\n"))
        }
        let (ips, _) = try PretrainBench.steadyRate(PretrainBench.windowRates(stepSeconds: log, batch: config.batchSizePerRank * ranks))
        return (Throughput(imagesPerSecond: ips, memory: memory), "official EsViT from \(o.repo)")
    }

    /// Rates of consecutive `logEvery`-iteration windows from a log of per-iteration `step_s`.
    static func windowRates(stepSeconds logText: String, batch: Int) -> [Double] {
        let steps = logText.split(separator: "\n").compactMap { line -> Double? in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return (o["step_s"] as? NSNumber)?.doubleValue
        }
        return stride(from: 0, to: steps.count - logEvery + 1, by: logEvery).map { start in
            Double(batch * logEvery) / steps[start..<(start + logEvery)].reduce(0, +)
        }
    }
}
