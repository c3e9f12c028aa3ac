// `esvit bench swin`: a Swin backbone's no-grad forward and forward+backward throughput, the
// achieved GFLOP/s against the sgemm roof, the split of time by op family, optionally beside
// timm's Swin (tools/reference/bench_timm_swin.py) measured in the same run. With more than
// one thread it also times the batch split (SwinSplit: whole parts of the batch per thread)
// beside the per-op split (every kernel split across the threads).
import ESKernels
import ESModel
import Foundation

public struct SwinBench {
    public var config: SwinConfig, arch: String
    public var size: Int, batch: Int, threads: Int, iters: Int

    public init(config: SwinConfig, arch: String, size: Int? = nil, batch: Int, threads: Int, iters: Int) throws {
        let size = size ?? config.constructSize
        guard size % config.patchSize == 0 else { throw BenchError.invalid("--image-size \(size) is not a multiple of the patch size \(config.patchSize)") }
        guard batch >= 1, threads >= 1, iters >= 1 else { throw BenchError.invalid("--batch, --threads and --iters must be ≥ 1") }
        self.config = config; self.arch = arch; self.size = size; self.batch = batch; self.threads = threads; self.iters = iters
    }

    /// What one run measured.
    public struct Result {
        public var forwardImagesPerSecond = 0.0, trainImagesPerSecond = 0.0
        /// Matrix-product GFLOP/s (backward counted as 2× forward) and the sgemm roof.
        public var forwardGFLOPs = 0.0, trainGFLOPs = 0.0, roof = 0.0
        public var forwardSplit = "", trainSplit = "", backwardSplit = ""
        /// Seconds per batch of the forward that keeps activations, and of the backward alone.
        public var trainForwardSeconds = 0.0, backwardSeconds = 0.0
        /// The batch split's images/s (nil with one thread).
        public var splitForwardImagesPerSecond: Double?, splitTrainImagesPerSecond: Double?
    }

    /// Times the backbone and reports through `say`; returns the figures.
    @discardableResult
    public func run(say: (String) -> Void) -> Result {
        Compute.setThreads(threads)
        var r = Result()
        r.roof = Measure.sgemmRoof(threads: threads)
        let table = ParameterTable()
        let model = SwinModel(config: config, table: table)
        let params = table.makeArena(), grads = table.makeArena()
        model.initialize(params.pointer, table: table, seed: 0)
        let img = FloatBuffer(count: batch * config.inChans * size * size)
        var rng = KeyedRandom(1)
        for i in 0..<img.count { img[i] = Float(rng.normal()) }
        let infer = SwinWorkspace(model: model, batch: batch, height: size, width: size, training: false)
        let train = SwinWorkspace(model: model, batch: batch, height: size, width: size, training: true)
        let dPool = FloatBuffer(count: batch * config.numFeatures)
        for i in 0..<dPool.count { dPool[i] = Float(rng.normal()) * 0.01 }
        let fwdFlops = model.forwardFLOPs(batch: batch, height: size, width: size)
        say("esvit bench swin: \(Machine.summary)")
        say("  arch \(arch) \(config.depths)×\(config.embedDim) ws\(config.windowSize) patch \(config.patchSize), "
            + "\(size)px, batch \(batch), threads \(threads); params \(String(format: "%.2fM", Double(table.parameterCount) / 1e6)), "
            + "workspace \(formatMiB(train.bytes)) train / \(formatMiB(infer.bytes)) no-grad")
        say(String(format: "  roof: OpenBLAS sgemm 1024³ %.1f GFLOP/s", r.roof))
        let forward = { model.forward(params: params.pointer, image: img.pointer, workspace: infer) }
        let trainForward = { model.forward(params: params.pointer, image: img.pointer, workspace: train) }
        let step = {
            trainForward()
            model.backward(params: params.pointer, grads: grads.pointer, workspace: train, dTokens: nil, dPooled: dPool.pointer)
        }
        let tf = Measure.medianSeconds(iters: iters, forward), tt = Measure.medianSeconds(iters: iters, step)
        let ttf = Measure.medianSeconds(iters: iters, trainForward)
        let forwardOps = OpSplit.measure(iters: iters, wall: tf, forward), trainOps = OpSplit.measure(iters: iters, wall: tt, step)
        let backwardOps = trainOps.minus(OpSplit.measure(iters: iters, wall: ttf, trainForward))
        r.forwardSplit = forwardOps.line; r.trainSplit = trainOps.line; r.backwardSplit = backwardOps.line
        r.backwardSeconds = tt - ttf; r.trainForwardSeconds = ttf
        r.forwardImagesPerSecond = Double(batch) / tf; r.trainImagesPerSecond = Double(batch) / tt
        r.forwardGFLOPs = fwdFlops / tf / 1e9; r.trainGFLOPs = 3 * fwdFlops / tt / 1e9
        say(String(format: "  forward (no grad):  %8.1f img/s  %6.1f GFLOP/s (%.0f%% of roof)", r.forwardImagesPerSecond, r.forwardGFLOPs, 100 * r.forwardGFLOPs / r.roof))
        say(String(format: "  forward+backward:   %8.1f img/s  %6.1f GFLOP/s (%.0f%% of roof)", r.trainImagesPerSecond, r.trainGFLOPs, 100 * r.trainGFLOPs / r.roof))
        say("  forward time split: " + r.forwardSplit)
        say("  forward+backward time split: " + r.trainSplit)
        say(String(format: "  training forward %.1f ms, backward alone %.1f ms (%.2f× the training forward); backward split: ",
                   1e3 * r.trainForwardSeconds, 1e3 * r.backwardSeconds, r.backwardSeconds / max(r.trainForwardSeconds, 1e-12)) + r.backwardSplit)
        if threads > 1 && batch >= threads { measureSplit(model, table, params, grads, img, dPool, fwdFlops, &r, say) }
        return r
    }

    /// The batch split: each thread runs whole parts of the batch with one-thread kernels.
    func measureSplit(_ model: SwinModel, _ table: ParameterTable, _ params: FloatBuffer, _ grads: FloatBuffer, _ img: FloatBuffer,
                      _ dPool: FloatBuffer, _ fwdFlops: Double, _ r: inout Result, _ say: (String) -> Void) {
        let infer = SwinSplit(model: model, batch: batch, height: size, width: size, training: false, parts: threads)
        let train = SwinSplit(model: model, batch: batch, height: size, width: size, training: true, parts: threads, gradientCount: table.totalCount)
        let tf = Measure.medianSeconds(iters: iters) { infer.forward(model, params: params.pointer, image: img.pointer) }
        let tt = Measure.medianSeconds(iters: iters) {
            train.forward(model, params: params.pointer, image: img.pointer)
            train.backward(model, params: params.pointer, grads: grads.pointer, dTokens: nil, dPooled: dPool.pointer)
        }
        let f = Double(batch) / tf, t = Double(batch) / tt
        r.splitForwardImagesPerSecond = f; r.splitTrainImagesPerSecond = t
        say("  batch split (\(threads) threads, samples \(train.ranges.map { "\($0.lowerBound)–\($0.upperBound - 1)" }.joined(separator: " | ")), one-thread kernels each):")
        say(String(format: "    forward (no grad):  %8.1f img/s  %6.1f GFLOP/s (%.0f%% of roof); %.2f× the per-op split",
                   f, fwdFlops / tf / 1e9, 100 * fwdFlops / tf / 1e9 / r.roof, f / r.forwardImagesPerSecond))
        say(String(format: "    forward+backward:   %8.1f img/s  %6.1f GFLOP/s (%.0f%% of roof); %.2f× the per-op split",
                   t, 3 * fwdFlops / tt / 1e9, 100 * 3 * fwdFlops / tt / 1e9 / r.roof, t / r.trainImagesPerSecond))
    }

    /// Runs timm's Swin of the same shape through `peer` and reports the ratios.
    public func compare(_ r: Result, with peer: TorchPeer, say: (String) -> Void) throws {
        let (v, versions) = try peer.figures(["--img-size", "\(size)"] + config.peerShapeArguments
            + ["--batch", "\(batch)", "--threads", "\(threads)", "--iters", "\(iters)"],
            ["forward_img_s", "train_img_s"])
        say(String(format: "  PyTorch/timm (same run): forward %.1f img/s, forward+backward %.1f img/s  [%@]", v[0], v[1], versions))
        say(String(format: "  ratio Swift/PyTorch: forward %.2f×, forward+backward %.2f×", r.forwardImagesPerSecond / v[0], r.trainImagesPerSecond / v[1]))
        if let f = r.splitForwardImagesPerSecond, let t = r.splitTrainImagesPerSecond {
            say(String(format: "  ratio Swift batch split/PyTorch: forward %.2f×, forward+backward %.2f×", f / v[0], t / v[1]))
        }
    }

    /// --memory: the layouts of the two workspaces the benchmark would allocate (nothing is allocated).
    public func memoryReport(say: (String) -> Void) {
        let model = SwinModel(config: config, table: ParameterTable())
        say("esvit bench swin --memory: arch \(arch), \(size) px, batch \(batch)")
        for training in [true, false] {
            say(SwinWorkspace.memoryReport(model: model, batch: batch, height: size, width: size, training: training))
        }
    }
}

/// The profiler's seconds by op family and linear-layer FLOPs over `iters` runs of a body.
struct OpSplit {
    var seconds: [Double], gemmFLOPs: Double, wall: Double

    /// `wall`: seconds per run to charge (e.g. an unprofiled median); nil: the profiled runs' own.
    static func measure(iters: Int, wall: Double?, _ body: () throws -> Void) rethrows -> OpSplit {
        Profiler.reset(); Profiler.enabled = true
        defer { Profiler.enabled = false }
        let t0 = Measure.monotonic()
        for _ in 0..<iters { try body() }
        let own = Double(Measure.monotonic() - t0) * 1e-9
        return OpSplit(seconds: Profiler.seconds, gemmFLOPs: Profiler.gemmFLOPs, wall: wall.map { $0 * Double(iters) } ?? own)
    }

    /// What `self` spent beyond `other` (e.g. forward+backward minus the training forward).
    func minus(_ other: OpSplit) -> OpSplit {
        OpSplit(seconds: zip(seconds, other.seconds).map { max(0, $0 - $1) }, gemmFLOPs: gemmFLOPs - other.gemmFLOPs, wall: wall - other.wall)
    }

    var line: String {
        let total = seconds.reduce(0, +)
        let parts = OpFamily.allCases.map { String(format: "%@ %.0f%%", $0.label, 100 * seconds[$0.rawValue] / max(total, 1e-12)) }
        let gemmRate = gemmFLOPs / max(seconds[OpFamily.gemm.rawValue], 1e-12) / 1e9
        return parts.joined(separator: ", ") + String(format: " (untracked %.0f%%); linear layers run at %.1f GFLOP/s",
                                                      max(0, 100 * (1 - total / max(wall, 1e-12))), gemmRate)
    }
}
