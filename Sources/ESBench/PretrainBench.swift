// `esvit bench pretrain`: the throughput users get. It runs `esvit pretrain --preset P` under
// launch/run-node.sh (N ranks × 1 thread: data loading, the step, the all-reduce and the EMA all
// included) for a fixed number of iterations and reads images/s from the run's own log.txt
// (the median of the progress windows after the first, which holds the warm-up), and the peak
// resident memory of the job's processes (sampled from /proc). With a peer it then runs the
// peer with the same recipe on the same cores in each of its launches — one process × N threads
// and torchrun with N processes × 1 thread over gloo, each with 0 and 1 DataLoader workers per
// process — and compares against the fastest. The peers: the official EsViT code
// (tools/official/run_official.py, OfficialPeer.swift) and the plain-PyTorch reference
// (tools/reference/pretrain_reference.py).
import ESKernels
import ESTrain
import Foundation

public struct PretrainBench {
    public var ranks: Int, iterations: Int, preset: RecipePreset, launcher: String
    /// The recipe the preset makes (shapes, crops and batch are passed on to the peer).
    public let config: PretrainConfig
    static let logEvery = 10

    public init(ranks: Int, iterations: Int, preset name: String, launcher: String) throws {
        guard ranks >= 1 else { throw BenchError.invalid("--ranks must be ≥ 1") }
        guard iterations >= 3 * PretrainBench.logEvery else {
            throw BenchError.invalid("--iterations must be ≥ \(3 * PretrainBench.logEvery) (the first \(PretrainBench.logEvery) are warm-up)")
        }
        guard let p = RecipePreset.named(name) else {
            throw BenchError.invalid("--preset \(name): no such preset (\(RecipePreset.all.map(\.name).joined(separator: ", ")))")
        }
        var c = PretrainConfig.standard
        p.apply(to: &c)
        self.ranks = ranks; self.iterations = iterations; preset = p; config = c; self.launcher = launcher
    }

    /// The pretrain command the bench runs (also printed, so a user can repeat it).
    func command(outputDir: String) -> [String] {
        ["-n", "\(ranks)", "--", "pretrain", "--preset", preset.name, "--iterations", "\(iterations)", "--eval-every-iters", "0",
         "--saveckp-iters", "0", "--log-every", "\(PretrainBench.logEvery)", "--seed", "0", "--output-dir", outputDir]
    }

    /// Images/s of a run (all processes together) and the peak resident memory of its processes.
    public struct Throughput {
        public var imagesPerSecond: Double
        /// The largest process's peak and the sum of every process's peak, in bytes (nil: not sampled).
        public var memory: (largest: Int, total: Int)?
        public init(imagesPerSecond: Double, memory: (largest: Int, total: Int)? = nil) { self.imagesPerSecond = imagesPerSecond; self.memory = memory }
        var memoryText: String {
            guard let m = memory else { return "" }
            return String(format: "; peak RSS %.0f MiB (largest process), %.0f MiB (all processes)", Double(m.largest) / 1048576, Double(m.total) / 1048576)
        }
    }

    /// Runs the pretraining and returns its throughput.
    public func run(say: (String) -> Void) throws -> Throughput {
        let c = config
        say("esvit bench pretrain: \(Machine.summary)")
        say("  --preset \(preset.name): \(c.arch) patch \(c.backbone.patchSize), 2×\(c.crops.globalSize) px + \(c.crops.localCrops)×\(c.crops.localSize) px, "
            + "\(c.batchSizePerRank) images per rank, region loss \(c.useDensePrediction ? "on" : "off"); \(ranks) rank(s) × 1 thread, \(iterations) iterations")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("esvit-bench-pretrain-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let args = command(outputDir: dir)
        say("  running: \(launcher) \(args.joined(separator: " "))")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: launcher)
        p.arguments = args
        let output = dir + "/output.txt"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        p.standardOutput = handle; p.standardError = handle
        do { try p.run() } catch { throw BenchError.invalid("cannot start \(launcher): \(error.localizedDescription) (run from the repository's top folder)") }
        let sampler = TreeMemorySampler(root: p.processIdentifier)
        p.waitUntilExit()
        let memory = sampler.stop()
        try? handle.close()
        guard p.terminationStatus == 0 else {
            let tail = (try? String(contentsOfFile: output, encoding: .utf8))?.split(separator: "\n").suffix(8).joined(separator: "\n") ?? ""
            throw BenchError.invalid("the pretraining run failed (exit \(p.terminationStatus)); its last lines:\n\(tail)")
        }
        let windows = try PretrainBench.windowRates(logText: String(contentsOfFile: dir + "/log.txt", encoding: .utf8))
        let (ips, text) = try PretrainBench.steadyRate(windows)
        let result = Throughput(imagesPerSecond: ips, memory: memory.largest > 0 ? memory : nil)
        say("  esvit pretrain: " + text + result.memoryText)
        return result
    }

    /// The median of the window rates after the first (the warm-up), and how it was taken.
    static func steadyRate(_ windows: [Double]) throws -> (Double, String) {
        guard windows.count >= 2 else { throw BenchError.invalid("the run's log.txt has \(windows.count) progress line(s); need at least 2") }
        let timed = Array(windows.dropFirst()).sorted()
        return (timed[timed.count / 2], String(format: "%.1f img/s (median of %d windows of %d iterations after the first; range %.1f–%.1f)",
                                              timed[timed.count / 2], timed.count, PretrainBench.logEvery, timed.first!, timed.last!))
    }

    /// The img_per_s of each progress line of a log.txt (JSON lines), in order.
    static func windowRates(logText: String) throws -> [Double] {
        logText.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return (o["img_per_s"] as? NSNumber)?.doubleValue
        }
    }

    /// One launch of the PyTorch reference: processes × threads per process, loader workers.
    public struct Launch: CustomStringConvertible {
        public let processes: Int, workers: Int
        public var description: String { "\(processes) process(es), \(workers) loader worker(s)" }
    }

    /// The launches tried for the peer: one process × N threads and N processes × 1 thread, each
    /// with 0 and 1 DataLoader workers.
    public var launches: [Launch] {
        (ranks > 1 ? [1, ranks] : [1]).flatMap { n in [0, 1].map { Launch(processes: n, workers: $0) } }
    }

    /// One run of a peer in one launch: its throughput and a note (versions).
    public typealias Peer = (Launch) throws -> (Throughput, String)

    /// One run of the PyTorch reference in launch `l`: its images/s and versions line.
    func torchPeer(_ l: Launch, python: String, script: String) throws -> (Throughput, String) {
        let c = config, b = c.backbone
        let recipe = b.peerShapeArguments + ["--construct-size", "\(b.constructSize)", "--global-size", "\(c.crops.globalSize)",
            "--local-size", "\(c.crops.localSize)", "--local-crops", "\(c.crops.localCrops)", "--hidden", "\(c.head.hidden)",
            "--bottleneck", "\(c.head.bottleneck)", "--out-dim", "\(c.head.outDim)", "--data", c.dataPath]
            + ["--blur-sigma"] + c.crops.blurSigma.map { "\($0)" }
        let threads = ranks / l.processes
        let torchrun = l.processes > 1 ? ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "\(l.processes)"] : []
        let batch = c.batchSizePerRank * ranks / l.processes
        let run = ["--batch-per-rank", "\(batch)", "--threads", "\(threads)", "--workers", "\(l.workers)",
                   "--iters", "\(max(iterations - PretrainBench.logEvery, 10))", "--warmup", "\(PretrainBench.logEvery)"]
        let (v, versions) = try TorchPeer(python: python, script: script, threads: threads, launcher: torchrun).figures(recipe + run, ["img_s"])
        return (Throughput(imagesPerSecond: v[0], memory: nil), versions)
    }

    /// The PyTorch reference as the peer.
    @discardableResult
    public func compare(_ mine: Throughput, rounds: Int = 1, python: String, script: String, say: (String) -> Void) throws -> [Double] {
        try compare(mine, rounds: rounds, name: "PyTorch reference", peer: { try torchPeer($0, python: python, script: script) }, say: say)
    }

    /// Runs every launch of `peer`, reports each figure and the ratio against the fastest; then,
    /// for `rounds` > 1, alternates further runs of esvit and of that launch (so that both sides
    /// meet a shared machine's drifts alike) and reports every round's ratio and their median.
    /// Returns the images/s ratios.
    @discardableResult
    public func compare(_ mine: Throughput, rounds: Int = 1, name: String, peer: Peer, say: (String) -> Void) throws -> [Double] {
        var best: (figures: Throughput, launch: Launch)? = nil
        for l in launches {
            let (v, note) = try peer(l)
            say(String(format: "  %@, %@: %.1f img/s", name, l.description, v.imagesPerSecond) + v.memoryText + (note.isEmpty ? "" : " [\(note)]"))
            if best == nil || v.imagesPerSecond > best!.figures.imagesPerSecond { best = (v, l) }
        }
        guard let best else { return [] }
        var line = String(format: "  ratio esvit/%@ at its best launch (%@): %.2f× the images/s", name, best.launch.description,
                          mine.imagesPerSecond / best.figures.imagesPerSecond)
        if let a = mine.memory, let b = best.figures.memory {
            line += String(format: ", %.2f× the peak RSS of all processes (%.2f× the largest process's)", Double(a.total) / Double(b.total),
                           Double(a.largest) / Double(b.largest))
        }
        say(line)
        var ratios = [mine.imagesPerSecond / best.figures.imagesPerSecond]
        if rounds < 2 { return ratios }
        for round in 2...rounds {
            let ours = try run(say: { if $0.hasPrefix("  esvit pretrain:") { say($0) } }).imagesPerSecond
            let theirs = try peer(best.launch).0.imagesPerSecond
            ratios.append(ours / theirs)
            say(String(format: "  round %d: esvit %.1f img/s, %@ (%@) %.1f img/s, ratio %.2f×", round, ours, name, best.launch.description, theirs, ours / theirs))
        }
        say(Measure.roundsLine(ratios))
        return ratios
    }
}
