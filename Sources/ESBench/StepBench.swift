// `esvit bench step`: throughput of the whole EsViT training step (teacher forward, student
// forward on both crop groups, both heads and losses, backward, clipping, AdamW, EMA) with its
// time split, optionally beside the plain-PyTorch reference step (tools/reference/bench_step.py).
import ESKernels
import ESModel
import ESObjective
import ESTrain
import Foundation

public struct StepBench {
    public var config: EsViTConfig, arch: Architecture, threads: Int, iters: Int
    /// Threads take whole parts of the batch through the backbone (EsViT's batchSplit) instead of
    /// splitting every kernel.
    public var batchSplit = false

    /// The architecture's recipe with the given overrides (nil: the architecture's value).
    public init(arch: Architecture, backbone: SwinConfig, batch: Int, localCrops: Int?, globalSize: Int?, localSize: Int?,
                hidden: Int?, bottleneck: Int?, outDim: Int?, regionLoss: Bool, threads: Int, iters: Int) throws {
        guard batch >= 1, threads >= 1, iters >= 1, (localCrops ?? 0) >= 0 else {
            throw BenchError.invalid("--batch, --threads, --iters must be ≥ 1 and --local-crops ≥ 0")
        }
        var backbone = backbone
        backbone.dropPathRate = 0
        var head = arch.head
        if let hidden { head.hidden = hidden }
        if let bottleneck { head.bottleneck = bottleneck }
        if let outDim { head.outDim = outDim }
        let g = globalSize ?? backbone.constructSize
        config = EsViTConfig(backbone: backbone, head: head, useDense: regionLoss, batch: batch, localCrops: localCrops ?? arch.localCrops,
                             globalSize: g, localSize: localSize ?? arch.localSize(global: g))
        self.arch = arch; self.threads = threads; self.iters = iters
    }

    /// What one run measured: images/s, the median step's split, the process's peak RSS and, with
    /// the per-op split, the roof bound of a profiled pass (nil with the batch split).
    public struct Result { public var imagesPerSecond: Double, split: StepTimes, peakRSSBytes: Int, bound: RoofBound? = nil }

    /// The recipe's starting values (the lr is a small fixed one: the bench times, it does not train).
    static var hyper: StepHyper {
        let d = PretrainConfig.standard
        return StepHyper(lr: 1e-4, weightDecay: Float(d.weightDecay), teacherMomentum: Float(d.momentumTeacher),
                         teacherTemperature: Float(d.warmupTeacherTemp), clipGrad: Float(d.clipGrad), freezeLastLayer: false)
    }

    /// Builds the model, times `iters` steps after one warm-up and reports through `say`, then
    /// (`withBound`) profiles `iters` more for the roof bound; with `memoryOnly` it prints the
    /// workspaces' memory tables instead of timing (nil result).
    @discardableResult
    public func run(memoryOnly: Bool = false, withBound: Bool = true, say: (String) -> Void) throws -> Result? {
        let c = config, batch = c.batch
        Compute.setThreads(threads)
        let model = EsViT(config: c, seed: 0, batchSplit: batchSplit ? min(threads, 2 * batch) : 1)
        var rng = KeyedRandom(3)
        let globals = (0..<(2 * batch * 3 * c.globalSize * c.globalSize)).map { _ in Float(rng.normal()) }
        let locals = (0..<(max(c.localCrops, 1) * batch * 3 * c.localSize * c.localSize)).map { _ in Float(rng.normal()) }
        say("esvit bench step: \(Machine.summary)")
        say("  \(arch), batch \(batch), 2×\(c.globalSize) px + \(c.localCrops)×\(c.localSize) px, head \(c.head.hidden)/\(c.head.bottleneck)/K \(c.head.outDim), "
            + "region loss \(c.useDense ? "on" : "off"), threads \(threads)" + (threads == 1 ? "" : batchSplit ? " (batch split: whole parts of the batch per thread through the backbone)" : " (every kernel split across them)"))
        say("  memory: parameters+grads+teacher+AdamW \(formatMiB(model.parameterBytes)), activations/heads/loss \(formatMiB(model.workspaceBytes))")
        if memoryOnly {
            var rest = model.workspaceBytes
            for (role, ws) in model.backboneWorkspaces { say("\(role): " + ws.memoryReport()); rest -= ws.bytes }
            say("transient pool of the backbone workspaces (their shared and scratch buffers, used one workspace at a time): \(formatMiB(model.transientPoolBytes))")
            rest -= model.transientPoolBytes
            say("heads, loss, gathered features" + (batchSplit && threads > 1 ? " and the batch split's part gradients" : "") + ": \(formatMiB(rest))")
            return nil
        }
        var samples: [Double] = [], splits: [StepTimes] = []
        for i in 0...iters {
            let t0 = Measure.monotonic()
            try model.step(globals: globals, locals: c.localCrops > 0 ? locals : nil, hyper: StepBench.hyper)
            if i > 0 { samples.append(Double(Measure.monotonic() - t0) * 1e-9); splits.append(model.times) }
        }
        let t = samples.sorted()[samples.count / 2]
        let s = splits[samples.firstIndex(of: t) ?? 0]
        let parts = [("teacher forward", s.teacherForward), ("student forward", s.studentForward), ("heads+loss", s.headsAndLoss),
                     ("backward", s.backward), ("optimizer+EMA", s.optimizer)]
        say(String(format: "  step: %.1f img/s (%.3f s/step)", Double(batch) / t, t))
        say("  split: " + parts.map { String(format: "%@ %.0f%%", $0.0, 100 * $0.1 / max(s.total, 1e-12)) }.joined(separator: ", "))
        let rss = Machine.peakRSSBytes
        say("  peak RSS of this process: \(formatMiB(rss))")
        var result = Result(imagesPerSecond: Double(batch) / t, split: s, peakRSSBytes: rss)
        if !withBound { return result }
        if batchSplit && threads > 1 {
            say("  bound: not measured with --batch-split (the profiler does not see the split's threads); run without it")
        } else {
            result.bound = try RoofBound.measure(passes: iters, threads: threads) {
                try model.step(globals: globals, locals: c.localCrops > 0 ? locals : nil, hyper: StepBench.hyper)
            }
            result.bound!.lines(images: batch).forEach(say)
        }
        return result
    }

    /// Runs the PyTorch reference step of the same recipe through `peer` and reports the ratio;
    /// with `rounds` > 1, further rounds alternate this bench's timing and the peer's and the
    /// median ratio is reported too (a shared machine's drifts then fall on both sides). Returns
    /// the speed ratios.
    @discardableResult
    public func compare(_ r: Result, with peer: TorchPeer, rounds: Int = 1, say: (String) -> Void) throws -> [Double] {
        let c = config, b = c.backbone
        let shape = b.peerShapeArguments + ["--construct-size", "\(b.constructSize)"]
        let crops = ["--global-size", "\(c.globalSize)", "--local-size", "\(c.localSize)", "--local-crops", "\(c.localCrops)", "--batch", "\(c.batch)"]
        let head = ["--hidden", "\(c.head.hidden)", "--bottleneck", "\(c.head.bottleneck)", "--out-dim", "\(c.head.outDim)"]
        let args = shape + crops + head + ["--threads", "\(threads)", "--iters", "\(iters)"]
        let (v, versions) = try peer.figures(args, ["step_img_s", "peak_rss_kib"])
        let peerRSS = Int(v[1]) * 1024
        say(String(format: "  PyTorch reference step (same run): %.1f img/s, peak RSS %@ [%@]", v[0], formatMiB(peerRSS), versions))
        say(String(format: "  ratio Swift/PyTorch: %.2f× the speed, %.2f× the peak RSS", r.imagesPerSecond / v[0], Double(r.peakRSSBytes) / Double(peerRSS)))
        var ratios = [r.imagesPerSecond / v[0]]
        if rounds >= 2 {
            for round in 2...rounds {
                guard let mine = try run(withBound: false, say: { _ in }) else { break }
                let theirs = try peer.figures(args, ["step_img_s"]).values[0]
                ratios.append(mine.imagesPerSecond / theirs)
                say(String(format: "  round %d: Swift %.1f img/s, PyTorch %.1f img/s, ratio %.2f×", round, mine.imagesPerSecond, theirs, ratios.last!))
            }
            say(Measure.roundsLine(ratios))
        }
        if let b = r.bound {
            let m = ratios.sorted()[ratios.count / 2]
            say(String(format: "  bound against PyTorch (the %@ratio × the bound): %.2f× with every linear layer at the roof and the rest as measured, %.2f× with the rest free as well",
                       ratios.count > 1 ? "median " : "", m * b.speedupAtRoof, m * b.speedupLinearOnly))
        }
        return ratios
    }
}
