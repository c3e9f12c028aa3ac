// One EsViT student/teacher pair and its training step (docs/algorithm.md §0, §5.3), single process:
//   1. teacher forward on the 2 global crops (no saved activations) → both teacher heads →
//      teacher probabilities with the current centers, local center sums;
//   2. student forward on the global group and the local group → view head on all pooled
//      features, region head on all final tokens; region matching on backbone tokens;
//   3. losses with fused last-layer chunks, head and backbone backward (gradients accumulate
//      over the two resolution groups and the fanned-out outputs);
//   4. (caller: all-reduce gradients and center sums across ranks)
//   5. per-tensor clipping, last-layer freezing, AdamW, teacher EMA; center update.
// Parameters live in one table: backbone.*, head.*, head_dense.* (upstream names); the teacher
// uses the same layout in its own arena. Crops are view-major: globals (2B, C, G, G) = view 0
// then view 1; locals (nLocal·B, C, L, L).
import ESKernels
import ESLoss
import ESModel
import ESOptim
import Foundation

/// Per-iteration values from the schedules.
public struct StepHyper: Sendable {
    public var lr: Float, weightDecay: Float, teacherMomentum: Float, teacherTemperature: Float
    public var clipGrad: Float, freezeLastLayer: Bool
    /// The region loss is on (with a region head): off, the step trains L_V alone and leaves the
    /// region head, its AdamW moments and the region center as they are.
    public var regionLoss: Bool
    public init(lr: Float, weightDecay: Float, teacherMomentum: Float, teacherTemperature: Float, clipGrad: Float, freezeLastLayer: Bool,
                regionLoss: Bool = true) {
        self.lr = lr; self.weightDecay = weightDecay; self.teacherMomentum = teacherMomentum
        self.teacherTemperature = teacherTemperature; self.clipGrad = clipGrad; self.freezeLastLayer = freezeLastLayer
        self.regionLoss = regionLoss
    }
}

extension StepHyper {
    /// The hyper-parameters of global iteration `it` under `schedule`.
    public init(_ schedule: TrainingSchedule, iteration it: Int) {
        let v = schedule.values(at: it)
        self.init(lr: Float(v.lr), weightDecay: Float(v.weightDecay), teacherMomentum: Float(v.momentum),
                  teacherTemperature: Float(v.teacherTemperature), clipGrad: Float(v.clipGrad), freezeLastLayer: v.freezeLastLayer,
                  regionLoss: v.regionLoss)
    }
}

/// What one single-process step returns: losses, the local center sums and row counts
/// (before the center update; an MPI trainer all-reduces these), and the time split.
public struct StepResult: Sendable {
    public let loss: LossValues
    public let viewCenterSum: [Double], viewCenterCount: Double
    public let regionCenterSum: [Double], regionCenterCount: Double
    public let times: StepTimes
}

public struct StepTimes: Sendable {
    public var teacherForward = 0.0, studentForward = 0.0, headsAndLoss = 0.0, backward = 0.0, optimizer = 0.0
    /// Forward, losses and backward (everything but the optimizer).
    public var forwardBackward: Double { teacherForward + studentForward + headsAndLoss + backward }
    public var total: Double { forwardBackward + optimizer }
}

public final class EsViT: @unchecked Sendable {
    public let config: EsViTConfig
    public let table = ParameterTable()
    public let backbone: SwinModel
    public let head: DINOHead
    public let denseHead: DINOHead?
    public let student: FloatBuffer, grads: FloatBuffer, teacher: FloatBuffer
    public let optimizer: AdamW
    public let centers: Centers
    public let loss: EsViTLoss
    /// The backbone's workspaces, each split into `batchSplit` parts (one part: every kernel split
    /// across the threads instead).
    let wsGlobal: SwinSplit, wsLocal: SwinSplit?, wsTeacher: SwinSplit
    /// Per part, the shared and scratch buffers of its three workspaces, which run one call at a time.
    let transient: [TransientPool]
    /// Threads that each take whole parts of every batch through the backbone (SwinSplit).
    public let batchSplit: Int
    /// The teacher's final tokens and pooled features, gathered from its parts.
    let teacherTokens, teacherPooled: FloatBuffer
    let hView: DINOHead.Workspace, hDense: DINOHead.Workspace?, tView: DINOHead.Workspace, tDense: DINOHead.Workspace?
    let pooledAll, tokensAll, dPooledAll, dTokensAll: FloatBuffer
    public private(set) var times = StepTimes()

    /// `batchSplit` > 1: that many threads each run whole parts of the batch through the backbone
    /// with one-thread kernels (heads and loss stay whole); 1: every kernel is split instead.
    public init(config: EsViTConfig, seed: UInt64, batchSplit: Int = 1) {
        self.config = config
        // No more parts than crops in either group.
        self.batchSplit = max(1, min(batchSplit, 2 * config.batch, config.localCrops > 0 ? config.localCrops * config.batch : 2 * config.batch))
        let C = config.backbone.numFeatures, B = config.batch, nL = config.localCrops
        let modules = EsViTModules(config: config, table: table)
        backbone = modules.backbone; head = modules.head; denseHead = modules.denseHead
        student = table.makeArena(); grads = table.makeArena(); teacher = table.makeArena()
        backbone.initialize(student.pointer, table: table, seed: seed)
        head.initialize(student.pointer, table: table, seed: seed)
        denseHead?.initialize(student.pointer, table: table, seed: seed)
        teacher.pointer.update(from: student.pointer, count: table.totalCount)
        optimizer = AdamW(table: table)
        centers = Centers(classes: config.head.outDim, momentum: config.centerMomentum)
        let G = config.globalSize, Ls = config.localSize, bb = backbone, n = self.batchSplit, count = table.totalCount
        let layouts = [SwinSplit.layouts(model: bb, batch: 2 * B, height: G, width: G, training: true, parts: n),
                       SwinSplit.layouts(model: bb, batch: 2 * B, height: G, width: G, training: false, parts: n)]
            + (nL > 0 ? [SwinSplit.layouts(model: bb, batch: nL * B, height: Ls, width: Ls, training: true, parts: n)] : [])
        let pools = (0..<n).map { t in TransientPool(for: layouts.map { $0[t] }) }
        transient = pools
        wsGlobal = SwinSplit(model: bb, batch: 2 * B, height: G, width: G, training: true, parts: n, gradientCount: count, transient: pools)
        wsLocal = nL > 0 ? SwinSplit(model: bb, batch: nL * B, height: Ls, width: Ls, training: true, parts: n, gradientCount: count, transient: pools) : nil
        wsTeacher = SwinSplit(model: bb, batch: 2 * B, height: G, width: G, training: false, parts: n, transient: pools)
        teacherTokens = FloatBuffer(count: 2 * B * wsTeacher.finalTokens * C); teacherPooled = FloatBuffer(count: 2 * B * C)
        let layout = LossLayout(batch: B, localCrops: nL, globalTokens: wsGlobal.finalTokens, localTokens: wsLocal?.finalTokens ?? 0)
        loss = EsViTLoss(layout: layout, classes: config.head.outDim, channels: C, useRegion: config.useDense,
                         studentTemperature: config.studentTemperature)
        hView = DINOHead.Workspace(head: head, rows: layout.studentViewRows, training: true)
        tView = DINOHead.Workspace(head: head, rows: layout.teacherViewRows, training: false)
        hDense = denseHead.map { DINOHead.Workspace(head: $0, rows: layout.studentRegionRows, training: true) }
        tDense = denseHead.map { DINOHead.Workspace(head: $0, rows: layout.teacherRegionRows, training: false) }
        pooledAll = FloatBuffer(count: layout.studentViewRows * C); dPooledAll = FloatBuffer(count: layout.studentViewRows * C)
        tokensAll = FloatBuffer(count: layout.studentRegionRows * C); dTokensAll = FloatBuffer(count: layout.studentRegionRows * C)
    }

    /// Bytes of activations, head buffers and loss buffers (printed at start-up by the trainer).
    public var workspaceBytes: Int {
        [wsGlobal.bytes, wsLocal?.bytes ?? 0, wsTeacher.bytes, transientPoolBytes, 4 * (teacherTokens.count + teacherPooled.count), hView.bytes, hDense?.bytes ?? 0, tView.bytes, tDense?.bytes ?? 0, loss.bytes,
         4 * (pooledAll.count + tokensAll.count + dPooledAll.count + dTokensAll.count)].reduce(0, +)
    }

    /// Bytes of the transient pools the three backbone workspaces share (in workspaceBytes once).
    public var transientPoolBytes: Int { transient.reduce(0) { $0 + $1.bytes } }

    /// The backbone workspaces behind workspaceBytes, by role and part (for memory reports).
    public var backboneWorkspaces: [(role: String, workspace: SwinWorkspace)] {
        func named(_ role: String, _ s: SwinSplit) -> [(role: String, workspace: SwinWorkspace)] {
            s.parts.enumerated().map { (s.parts.count == 1 ? role : "\(role), part \($0.offset + 1) of \(s.parts.count)", $0.element) }
        }
        return named("student, global crops", wsGlobal) + (wsLocal.map { named("student, local crops", $0) } ?? []) + named("teacher", wsTeacher)
    }

    public var parameterBytes: Int { table.totalCount * 4 * 5 }   // student, grads, teacher, m, v

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    /// Steps 1-3: forward, losses and backward. `grads` is overwritten. `sampleKeys` (one per
    /// image, e.g. from seed, epoch and global sample index) key the student's DropPath masks.
    /// `regionLoss` false (a region head's view-only phase): the region head runs neither way and
    /// the loss is L_V alone.
    public func forwardBackward(globals: UnsafePointer<Float>, locals: UnsafePointer<Float>?, teacherTemperature: Float,
                                sampleKeys: [UInt64]? = nil, regionLoss: Bool = true) throws -> LossValues {
        let B = config.batch, nL = config.localCrops, C = config.backbone.numFeatures, Bn = config.head.bottleneck
        loss.useRegion = config.useDense && regionLoss
        let (denseHead, tDense, hDense) = loss.useRegion ? (self.denseHead, self.tDense, self.hDense) : (nil, nil, nil)
        var t0 = EsViT.now()
        // 1. Teacher.
        wsTeacher.forward(backbone, params: teacher.pointer, image: globals)
        wsTeacher.gather(tokens: teacherTokens.pointer, pooled: teacherPooled.pointer)
        head.forward(params: teacher.pointer, x: teacherPooled.pointer, workspace: tView)
        if let denseHead, let tDense { denseHead.forward(params: teacher.pointer, x: teacherTokens.pointer, workspace: tDense) }
        loss.teacherProbabilities(viewZn: tView.zn.pointer, viewW: tView.w.pointer, regionZn: tDense?.zn.pointer, regionW: tDense?.w.pointer,
                                  bottleneck: Bn, centers: centers, temperature: teacherTemperature)
        var t1 = EsViT.now(); times.teacherForward = t1 - t0; t0 = t1
        // 2. Student backbone on both resolution groups.
        func keys(_ views: Range<Int>) -> [UInt64]? {
            sampleKeys.map { k in views.flatMap { v in (0..<B).map { b in var r = KeyedRandom(k[b], UInt64(v)); return r.next() } } }
        }
        wsGlobal.forward(backbone, params: student.pointer, image: globals, dropPathKeys: keys(0..<2))
        if let wsLocal, let locals { wsLocal.forward(backbone, params: student.pointer, image: locals, dropPathKeys: keys(2..<(2 + nL))) }
        let gTok = 2 * B * wsGlobal.finalTokens * C
        wsGlobal.gather(tokens: tokensAll.pointer, pooled: pooledAll.pointer)
        wsLocal?.gather(tokens: tokensAll.pointer + gTok, pooled: pooledAll.pointer + 2 * B * C)
        t1 = EsViT.now(); times.studentForward = t1 - t0; t0 = t1
        // 3. Heads, matching and losses.
        head.forward(params: student.pointer, x: pooledAll.pointer, workspace: hView)
        if let denseHead, let hDense { denseHead.forward(params: student.pointer, x: tokensAll.pointer, workspace: hDense) }
        loss.match(studentTokens: tokensAll.pointer, teacherTokens: teacherTokens.pointer)
        hView.dW.zero(); hDense?.dW.zero()
        let values = try loss.student(viewZn: hView.zn.pointer, viewW: hView.w.pointer, viewDzn: hView.dzn.pointer, viewDW: hView.dW.pointer,
                                      regionZn: hDense?.zn.pointer, regionW: hDense?.w.pointer, regionDzn: hDense?.dzn.pointer,
                                      regionDW: hDense?.dW.pointer, bottleneck: Bn)
        t1 = EsViT.now(); times.headsAndLoss = t1 - t0; t0 = t1
        // Backward: heads → (pooled, tokens) → backbone, per resolution group.
        grads.zero()
        head.backward(params: student.pointer, grads: grads.pointer, x: pooledAll.pointer, workspace: hView, dx: dPooledAll.pointer)
        if let denseHead, let hDense {
            denseHead.backward(params: student.pointer, grads: grads.pointer, x: tokensAll.pointer, workspace: hDense, dx: dTokensAll.pointer)
        }
        let dTok: (UnsafePointer<Float>?, UnsafePointer<Float>?) = loss.useRegion
            ? (UnsafePointer(dTokensAll.pointer), UnsafePointer(dTokensAll.pointer + gTok)) : (nil, nil)
        wsGlobal.backward(backbone, params: student.pointer, grads: grads.pointer, dTokens: dTok.0, dPooled: dPooledAll.pointer)
        wsLocal?.backward(backbone, params: student.pointer, grads: grads.pointer, dTokens: dTok.1, dPooled: dPooledAll.pointer + 2 * B * C)
        t1 = EsViT.now(); times.backward = t1 - t0
        return values
    }

    /// Step 5: per-tensor clipping, last-layer freezing, AdamW and the teacher EMA.
    public func optimizerStep(_ h: StepHyper) {
        let t0 = EsViT.now()
        AdamW.clipPerTensor(grads.pointer, table: table, maxNorm: h.clipGrad)
        optimizer.step(params: student.pointer, grads: grads.pointer, lr: h.lr, weightDecay: h.weightDecay) {
            (h.freezeLastLayer && $0.key.contains("last_layer")) || (!h.regionLoss && $0.key.hasPrefix("head_dense."))
        }
        AdamW.ema(teacher: teacher.pointer, student: student.pointer, count: table.totalCount, momentum: h.teacherMomentum)
        times.optimizer = EsViT.now() - t0
    }

    /// The objective's sums for a single-process step, declared and allocated once.
    private lazy var localSums: (sums: NamedSums, fields: ObjectiveSums) = {
        var layout = NamedSums.Layout()
        let fields = ObjectiveSums(declaringIn: &layout, classes: config.head.outDim)
        return (NamedSums(layout), fields)
    }()

    /// Center update from this process's last forwardBackward alone (a single-process step).
    public func updateCenters() {
        let (sums, fields) = localSums
        sums.reset()
        addSums(to: sums, fields, statistics: false)
        updateCenters(from: sums, fields)
    }

    /// The whole single-process step with explicit hyper-parameters.
    @discardableResult
    public func step(globals: UnsafePointer<Float>, locals: UnsafePointer<Float>?, hyper: StepHyper, sampleKeys: [UInt64]? = nil) throws -> StepResult {
        let values = try forwardBackward(globals: globals, locals: locals, teacherTemperature: hyper.teacherTemperature, sampleKeys: sampleKeys,
                                         regionLoss: hyper.regionLoss)
        updateCenters()
        optimizerStep(hyper)
        // The loss keeps this step's local sums until the next forward; times now include the optimizer.
        return StepResult(loss: values, viewCenterSum: loss.viewSum, viewCenterCount: loss.viewCount,
                          regionCenterSum: loss.regionSum, regionCenterCount: loss.regionCount, times: times)
    }

    /// The whole single-process step at global iteration `iteration` of `schedule`.
    @discardableResult
    public func step(globals: UnsafePointer<Float>, locals: UnsafePointer<Float>?, iteration: Int, schedule: TrainingSchedule,
                     sampleKeys: [UInt64]? = nil) throws -> StepResult {
        try step(globals: globals, locals: locals, hyper: StepHyper(schedule, iteration: iteration), sampleKeys: sampleKeys)
    }
}
