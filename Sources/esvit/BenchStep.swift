// `esvit bench step`: throughput of the whole EsViT training step (teacher forward, student
// forward on both crop groups, both heads and losses, backward, clipping, AdamW, EMA) with its
// time split, against the plain-PyTorch reference step in the same run.
import ArgumentParser
import ESCheckpoint
import ESKernels
import ESModel
import ESOptions
import ESObjective
import ESTrain
import Foundation

struct BenchStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Whole training-step throughput (images/s) and its time split.",
        discussion: """
        Images/s counts the batch (distinct images) per step; each image contributes 2 global and \
        --local-crops local views. With --compare-torch PYTHON it also runs \
        tools/reference/bench_step.py (the same recipe in plain PyTorch, same threads) and prints the ratio.

        Example: esvit bench step --arch swin_mini --batch 64 --local-crops 6 --threads 2 --compare-torch .venv/bin/python
        """)

    @OptionGroup var archOptions: ArchOptions
    @Option(help: "Images per step (per rank).") var batch: Int = 64
    @Option(help: "Local crops per image (default: the architecture's, \(Architecture.swinMini.localCrops) for swin_mini).") var localCrops: Int?
    @Option(help: "Global crop size (default: the preset's construction size).") var globalSize: Int?
    @Option(help: "Local crop size (default: half the global size for swin_mini, \(Architecture.swinTiny.localSize(global: 224)) otherwise).") var localSize: Int?
    @Option(help: "Head hidden width (default: \(HeadConfig.cpu.hidden) for swin_mini, \(HeadConfig.imagenet.hidden) otherwise).") var hidden: Int?
    @Option(help: "Head bottleneck (default: \(HeadConfig.cpu.bottleneck) for swin_mini, \(HeadConfig.imagenet.bottleneck) otherwise).") var bottleneck: Int?
    @Option(help: "Head output dimension K (default: \(HeadConfig.cpu.outDim) for swin_mini, \(HeadConfig.imagenet.outDim) otherwise).") var outDim: Int?
    @Flag(help: "Turn the region loss off (view-only, DINO's loss).") var noDense = false
    @Option(help: "Compute threads.") var threads: Int = 1
    @Option(help: "Timed steps (after one warm-up).") var iters: Int = 3
    @Option(help: "Python with torch: also time the PyTorch reference step.") var compareTorch: String?
    @Option(help: "Path to bench_step.py.") var torchScript: String = "tools/reference/bench_step.py"
    @Flag(help: "Print the backbone workspaces' per-buffer memory tables instead of timing.") var memory = false

    func validate() throws {
        if batch < 1 || threads < 1 || iters < 1 || (localCrops ?? 0) < 0 { throw ValidationError("--batch, --threads, --iters must be ≥ 1 and --local-crops ≥ 0") }
    }

    func run() throws {
        var backbone = try archOptions.config()
        backbone.dropPathRate = 0
        var head = archOptions.arch.head
        if let hidden { head.hidden = hidden }
        if let bottleneck { head.bottleneck = bottleneck }
        if let outDim { head.outDim = outDim }
        let g = globalSize ?? backbone.constructSize
        let l = localSize ?? archOptions.arch.localSize(global: g), localCrops = self.localCrops ?? archOptions.arch.localCrops
        Compute.setThreads(threads)
        let cfg = EsViTConfig(backbone: backbone, head: head, useDense: !noDense, batch: batch, localCrops: localCrops, globalSize: g, localSize: l)
        let model = EsViT(config: cfg, seed: 0)
        var rng = KeyedRandom(3)
        let globals = (0..<(2 * batch * 3 * g * g)).map { _ in Float(rng.normal()) }
        let locals = (0..<(max(localCrops, 1) * batch * 3 * l * l)).map { _ in Float(rng.normal()) }
        print("esvit bench step: \(archOptions.arch), batch \(batch), 2×\(g) px + \(localCrops)×\(l) px, head \(head.hidden)/\(head.bottleneck)/K \(head.outDim), "
              + "region loss \(noDense ? "off" : "on"), threads \(threads)")
        print("  memory: parameters+grads+teacher+AdamW \(formatMiB(model.parameterBytes)), activations/heads/loss \(formatMiB(model.workspaceBytes))")
        if memory {
            var rest = model.workspaceBytes
            for (role, ws) in model.backboneWorkspaces { print("\(role): " + ws.memoryReport()); rest -= ws.bytes }
            print("heads, loss and gathered features: \(formatMiB(rest))")
            return
        }
        // The recipe's starting values (the lr is a small fixed one: the bench times, it does not train).
        let d = PretrainConfig.standard
        let hyper = StepHyper(lr: 1e-4, weightDecay: Float(d.weightDecay), teacherMomentum: Float(d.momentumTeacher),
                              teacherTemperature: Float(d.warmupTeacherTemp), clipGrad: Float(d.clipGrad), freezeLastLayer: false)
        var samples: [Double] = [], splits: [StepTimes] = []
        for i in 0...iters {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try model.step(globals: globals, locals: localCrops > 0 ? locals : nil, hyper: hyper)
            if i > 0 { samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9); splits.append(model.times) }
        }
        let t = samples.sorted()[samples.count / 2]
        let s = splits[samples.firstIndex(of: t) ?? 0]
        let parts = [("teacher forward", s.teacherForward), ("student forward", s.studentForward), ("heads+loss", s.headsAndLoss),
                     ("backward", s.backward), ("optimizer+EMA", s.optimizer)]
        print(String(format: "  step: %.1f img/s (%.3f s/step)", Double(batch) / t, t))
        print("  split: " + parts.map { String(format: "%@ %.0f%%", $0.0, 100 * $0.1 / max(s.total, 1e-12)) }.joined(separator: ", "))
        if let py = compareTorch {
            let obj = try runTorchPeer(python: py, script: torchScript, threads: threads, arguments: [
                "--patch-size", "\(backbone.patchSize)", "--embed-dim", "\(backbone.embedDim)",
                "--depths", backbone.depths.map(String.init).joined(separator: ","),
                "--num-heads", backbone.numHeads.map(String.init).joined(separator: ","),
                "--window-size", "\(backbone.windowSize)", "--construct-size", "\(backbone.constructSize)",
                "--global-size", "\(g)", "--local-size", "\(l)", "--local-crops", "\(localCrops)", "--batch", "\(batch)",
                "--hidden", "\(head.hidden)", "--bottleneck", "\(head.bottleneck)", "--out-dim", "\(head.outDim)",
                "--threads", "\(threads)", "--iters", "\(iters)"])
            guard let ts = obj["step_img_s"] as? Double else { throw CLIError("the PyTorch peer printed no step_img_s") }
            print(String(format: "  PyTorch reference step (same run): %.1f img/s [%@]", ts, obj["versions"] as? String ?? ""))
            print(String(format: "  ratio Swift/PyTorch: %.2f×", Double(batch) / t / ts))
        }
    }
}
