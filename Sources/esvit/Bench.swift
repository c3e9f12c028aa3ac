// `esvit bench`: throughput benchmarks that print ratios against references measured in the
// same run (OpenBLAS sgemm as the roof; optionally timm's Swin through a PyTorch peer script).
import ArgumentParser
import COpenBLAS
import ESKernels
import ESModel
import ESOptions
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (images/s, GFLOP/s, time split) against references measured in the same run.",
        subcommands: [BenchSwin.self, BenchStep.self, BenchData.self, BenchKernels.self])
}

struct BenchSwin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swin",
        abstract: "Swin backbone forward and forward+backward throughput.",
        discussion: """
        Prints images/s for a no-grad forward and for forward+backward (training workspace, no \
        DropPath), the achieved GFLOP/s (matrix products only; backward counted as 2× forward), the \
        split of time by op family, and OpenBLAS sgemm GFLOP/s (1024³) measured in this process with \
        the same threads as the roof. With --compare-torch PYTHON it also runs \
        tools/reference/bench_timm_swin.py (timm's Swin, same shape, batch and threads, fp32, train \
        mode) and prints the ratio. With --memory it only prints where the two workspaces' bytes go \
        (one row per buffer: shape, lifetime, regions, bytes, share).

        Example: esvit bench swin --arch swin_tiny --batch 8 --threads 2 --compare-torch .venv/bin/python
        """)

    @OptionGroup var archOptions: ArchOptions
    @Option(help: "Images per batch.") var batch: Int = 64
    @Option(help: "Input size (default: the preset's construction size).") var imageSize: Int?
    @Option(help: "Compute threads (Swift kernels and OpenBLAS).") var threads: Int = 1
    @Option(help: "Timed iterations per measurement (after one warm-up).") var iters: Int = 5
    @Option(help: "Python with torch and timm: also time timm's Swin on the same config.") var compareTorch: String?
    @Option(help: "Path to bench_timm_swin.py (default: tools/reference/ under the current folder).") var torchScript: String = "tools/reference/bench_timm_swin.py"
    @Flag(help: "Print the training and no-grad workspaces' per-buffer memory tables instead of timing.") var memory = false

    func validate() throws {
        if batch < 1 || threads < 1 || iters < 1 { throw ValidationError("--batch, --threads and --iters must be ≥ 1") }
    }

    func run() throws {
        let cfg = try archOptions.config()
        let size = imageSize ?? cfg.constructSize
        guard size % cfg.patchSize == 0 else { throw ValidationError("--image-size \(size) is not a multiple of the patch size \(cfg.patchSize)") }
        if memory { return printMemory(cfg, size: size) }
        Compute.setThreads(threads)
        let roof = sgemmGFLOPs()
        let table = ParameterTable()
        let model = SwinModel(config: cfg, table: table)
        let params = table.makeArena(), grads = table.makeArena()
        model.initialize(params.pointer, table: table, seed: 0)
        let img = FloatBuffer(count: batch * cfg.inChans * size * size)
        var rng = KeyedRandom(1)
        for i in 0..<img.count { img[i] = Float(rng.normal()) }
        let infer = SwinWorkspace(model: model, batch: batch, height: size, width: size, training: false)
        let train = SwinWorkspace(model: model, batch: batch, height: size, width: size, training: true)
        let dPool = FloatBuffer(count: batch * cfg.numFeatures)
        for i in 0..<dPool.count { dPool[i] = Float(rng.normal()) * 0.01 }
        let fwdFlops = model.forwardFLOPs(batch: batch, height: size, width: size)
        print("esvit bench swin: arch \(archOptions.arch) \(cfg.depths)×\(cfg.embedDim) ws\(cfg.windowSize) patch \(cfg.patchSize), "
              + "\(size)px, batch \(batch), threads \(threads); params \(String(format: "%.2fM", Double(table.parameterCount) / 1e6)), "
              + "workspace \(formatMiB(train.bytes)) train / \(formatMiB(infer.bytes)) no-grad")
        print(String(format: "  roof: OpenBLAS sgemm 1024³ %.1f GFLOP/s", roof))
        func time(_ body: () -> Void) -> Double {
            body()
            var samples: [Double] = []
            for _ in 0..<iters {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            }
            return samples.sorted()[samples.count / 2]
        }
        let tf = time { model.forward(params: params.pointer, image: img.pointer, workspace: infer) }
        let step = {
            model.forward(params: params.pointer, image: img.pointer, workspace: train)
            model.backward(params: params.pointer, grads: grads.pointer, workspace: train, dTokens: nil, dPooled: dPool.pointer)
        }
        let tt = time(step)
        func split(_ body: () -> Void, _ wall: Double) -> String {
            Profiler.reset(); Profiler.enabled = true
            for _ in 0..<iters { body() }
            Profiler.enabled = false
            let total = Profiler.seconds.reduce(0, +)
            let parts = OpFamily.allCases.map { String(format: "%@ %.0f%%", $0.label, 100 * Profiler.seconds[$0.rawValue] / max(total, 1e-12)) }
            let gemmRate = Profiler.gemmFLOPs / max(Profiler.seconds[OpFamily.gemm.rawValue], 1e-12) / 1e9
            return parts.joined(separator: ", ") + String(format: " (untracked %.0f%%); linear layers run at %.1f GFLOP/s",
                                                          max(0, 100 * (1 - total / (wall * Double(iters)))), gemmRate)
        }
        let forwardSplit = split({ model.forward(params: params.pointer, image: img.pointer, workspace: infer) }, tf)
        let trainSplit = split(step, tt)
        let fwdImgs = Double(batch) / tf, trainImgs = Double(batch) / tt
        print(String(format: "  forward (no grad):  %8.1f img/s  %6.1f GFLOP/s (%.0f%% of roof)", fwdImgs, fwdFlops / tf / 1e9, 100 * fwdFlops / tf / 1e9 / roof))
        print(String(format: "  forward+backward:   %8.1f img/s  %6.1f GFLOP/s (%.0f%% of roof)", trainImgs, 3 * fwdFlops / tt / 1e9, 100 * 3 * fwdFlops / tt / 1e9 / roof))
        print("  forward time split: " + forwardSplit)
        print("  forward+backward time split: " + trainSplit)
        if let py = compareTorch {
            let t = try torchPeer(python: py, cfg: cfg, size: size)
            print(String(format: "  PyTorch/timm (same run): forward %.1f img/s, forward+backward %.1f img/s  [%@]", t.fwd, t.train, t.version))
            print(String(format: "  ratio Swift/PyTorch: forward %.2f×, forward+backward %.2f×", fwdImgs / t.fwd, trainImgs / t.train))
        }
    }

    /// --memory: the layouts of the two workspaces the benchmark would allocate (nothing is allocated).
    func printMemory(_ cfg: SwinConfig, size: Int) {
        let model = SwinModel(config: cfg, table: ParameterTable())
        print("esvit bench swin --memory: arch \(archOptions.arch), \(size) px, batch \(batch)")
        for training in [true, false] {
            print(SwinWorkspace.memoryReport(model: model, batch: batch, height: size, width: size, training: training))
        }
    }

    /// OpenBLAS's own multi-threaded sgemm at `threads` threads (the engine keeps OpenBLAS
    /// single-threaded and splits products itself, so the roof is set up here explicitly).
    func sgemmGFLOPs() -> Double {
        openblas_set_num_threads(Int32(threads))
        defer { openblas_set_num_threads(1) }
        let n = 1024
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
        var best = 0.0
        for _ in 0..<4 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a.pointer, Int32(n),
                        b.pointer, Int32(n), 0, c.pointer, Int32(n))
            let s = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            best = max(best, 2 * Double(n * n * n) / s / 1e9)
        }
        return best
    }

    func torchPeer(python: String, cfg: SwinConfig, size: Int) throws -> (fwd: Double, train: Double, version: String) {
        let obj = try runTorchPeer(python: python, script: torchScript, threads: threads, arguments: [
            "--img-size", "\(size)", "--patch-size", "\(cfg.patchSize)", "--embed-dim", "\(cfg.embedDim)",
            "--depths", cfg.depths.map(String.init).joined(separator: ","),
            "--num-heads", cfg.numHeads.map(String.init).joined(separator: ","),
            "--window-size", "\(cfg.windowSize)", "--batch", "\(batch)", "--threads", "\(threads)", "--iters", "\(iters)"])
        guard let f = obj["forward_img_s"] as? Double, let t = obj["train_img_s"] as? Double else {
            throw CLIError("the PyTorch peer (\(python) \(torchScript)) printed no forward_img_s/train_img_s")
        }
        return (f, t, obj["versions"] as? String ?? "")
    }
}

/// Runs a PyTorch peer benchmark script with OMP_NUM_THREADS = threads and returns the JSON
/// object on its last output line.
func runTorchPeer(python: String, script: String, threads: Int, arguments: [String]) throws -> [String: Any] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = [script] + arguments
    var env = ProcessInfo.processInfo.environment
    env["OMP_NUM_THREADS"] = "\(threads)"
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    do { try p.run() } catch { throw CLIError("cannot start \(python): \(error.localizedDescription)") }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let line = String(data: data, encoding: .utf8)?.split(separator: "\n").last,
          let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw CLIError("the PyTorch peer (\(python) \(script)) failed; run it by hand to see why")
    }
    return obj
}
