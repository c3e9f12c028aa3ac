// One data-parallel optimizer iteration (the body of the training loop, also timed by the
// --time-budget probe): per micro-batch forward/backward with gradient accumulation, one small
// all-reduce (center sums, losses, a non-finite flag, bad-file counts and, on statistics steps,
// the teacher's collapse statistics), the bucketed gradient all-reduce, then the center update
// and the optimizer step, identical on every rank.
import ESData
import ESDistributed
import ESKernels
import ESLoss
import ESModel
import ESObjective
import Foundation

/// Buffers reused by every step: the small reduction vector and the accumulation buffer.
final class StepScratch {
    /// Layout of `small`: view center sum (K), region center sum (K), view and region teacher
    /// probability sums (K each), then the scalars below.
    enum S {
        static let vCount = 0, rCount = 1, loss = 2, lossV = 3, lossR = 4, nonFinite = 5, replaced = 6
        static let hSumV = 7, hRowsV = 8, hPairV = 9, hSumR = 10, hRowsR = 11, hPairR = 12, count = 13
    }
    let K: Int
    var small: [Double]
    let accum: FloatBuffer?
    init(classes K: Int, parameters P: Int, accumulation A: Int) {
        self.K = K
        small = [Double](repeating: 0, count: 4 * K + S.count)
        accum = A > 1 ? FloatBuffer(count: P) : nil
    }
    subscript(_ s: Int) -> Double {
        get { small[4 * K + s] }
        set { small[4 * K + s] = newValue }
    }
}

/// What one iteration measured, averaged over ranks and micro-batches where it is a mean.
struct StepOutcome {
    var loss = (0.0, 0.0, 0.0)
    var dataWait = 0.0, compute = 0.0, syncWait = 0.0, reduce = 0.0
    var replaced = 0
    var teacher: TeacherSummary? = nil
}

extension Trainer {
    /// Runs iteration `it` (micro-batches from `loader`). With `statistics`, the teacher's collapse
    /// statistics are gathered too. A non-finite loss on any rank throws on every rank before any
    /// update; `lastCheckpoint` names the checkpoint that stays valid.
    func trainStep(_ model: EsViT, loader: MultiCropLoader, hyper: StepHyper, scratch z: StepScratch, iteration it: Int,
                   statistics: Bool, lastCheckpoint: String?) throws -> StepOutcome {
        let c = config, W = comm.size, A = c.gradAccumSteps, K = c.head.outDim, P = model.table.totalCount
        typealias S = StepScratch.S
        var out = StepOutcome()
        for k in 0..<z.small.count { z.small[k] = 0 }
        for micro in 0..<A {
            guard let batch = loader.next() else { throw TrainError.data("the loader ran out of batches at iteration \(it) (internal error)") }
            out.dataWait += loader.lastWait
            z[S.replaced] += Double(batch.replaced)
            do {
                var v = try model.forwardBackward(globals: batch.globals.pointer, locals: c.crops.localCrops > 0 ? batch.locals.pointer : nil,
                                                  teacherTemperature: hyper.teacherTemperature, sampleKeys: batch.sampleKeys)
                out.compute += model.times.teacherForward + model.times.studentForward + model.times.headsAndLoss + model.times.backward
                if fault?.nanAt == it { v.total = .nan }
                guard v.total.isFinite else { throw LossError.nonFinite(view: v.view, region: v.region) }
                z[S.loss] += v.total; z[S.lossV] += v.view; z[S.lossR] += v.region
                let l = model.loss
                for k in 0..<K { z.small[k] += l.viewSum[k] }
                if c.useDensePrediction { for k in 0..<K { z.small[K + k] += l.regionSum[k] } }
                z[S.vCount] += l.viewCount; z[S.rCount] += l.regionCount
                if statistics {
                    for (head, base, slots) in [(false, 2 * K, (S.hSumV, S.hRowsV, S.hPairV)), (true, 3 * K, (S.hSumR, S.hRowsR, S.hPairR))] {
                        guard let t = l.teacherStats(region: head) else { continue }
                        for k in 0..<K { z.small[base + k] += t.probabilitySum[k] }
                        z[slots.0] += t.entropySum; z[slots.1] += t.rows; z[slots.2] += t.pairEntropy
                    }
                }
                if let accum = z.accum {
                    if micro == 0 { accum.pointer.update(from: model.grads.pointer, count: P) }
                    else { VectorMath.add(model.grads.pointer, into: accum.pointer, P) }
                }
            } catch {
                z[S.nonFinite] += 1
            }
        }
        // Center sums, losses and flags from every rank. The first collective after the compute
        // also absorbs waiting for the slowest rank.
        let tr0 = clock.now()
        z.small.withUnsafeMutableBufferPointer { comm.allReduceSum($0.baseAddress!, count: $0.count) }
        out.syncWait = clock.now() - tr0
        if z[S.nonFinite] > 0 {
            let kept = lastCheckpoint ?? (FileManager.default.fileExists(atPath: files.latestCheckpoint) ? files.latestCheckpoint : nil)
            throw TrainError.nonFinite("non-finite loss at iteration \(it) (epoch \(it / layout.iterationsPerEpoch)) on \(Int(z[S.nonFinite])) micro-batch(es); every rank stopped before updating. "
                + (kept.map { "The last good checkpoint is \($0)." } ?? "No checkpoint was written yet.")
                + " Hint: lower --lr, raise the lr warmup or lower --teacher-temp.")
        }
        // Gradients: sum over ranks and micro-batches, then average.
        if let accum = z.accum { model.grads.pointer.update(from: accum.pointer, count: P) }
        comm.allReduceSum(model.grads.pointer, count: P)
        if W * A > 1 { VectorMath.scale(model.grads.pointer, by: 1 / Float(W * A), P) }
        out.reduce = clock.now() - tr0
        if let dir = fault?.dumpGradients, comm.isRoot {
            var w = SafeTensorsWriter()
            Weights.add(model.table, model.grads.pointer, to: &w, filePrefix: "grad.")
            try w.write(to: (dir as NSString).appendingPathComponent("grads\(it).safetensors"))
        }
        // Identical updates everywhere.
        let vc = z[S.vCount], rc = z[S.rCount]
        model.updateCenters(viewSum: Array(z.small[0..<K]), viewCount: vc,
                            regionSum: Array(z.small[K..<(2 * K)]), regionCount: c.useDensePrediction ? rc : 0)
        model.optimizerStep(hyper)
        out.compute += model.times.optimizer
        if fault?.desyncAt == it { model.student[0] += 1e-3 }
        let n = Double(W * A)
        out.loss = (z[S.loss] / n, z[S.lossV] / n, z[S.lossR] / n)
        out.replaced = Int(z[S.replaced])
        if statistics {
            out.teacher = TeacherSummary(
                view: TeacherSummary.Head(probabilitySum: z.small[(2 * K)..<(3 * K)], entropySum: z[S.hSumV], rows: z[S.hRowsV],
                                          loss: out.loss.1, pairEntropy: z[S.hPairV] / n),
                region: c.useDensePrediction
                    ? TeacherSummary.Head(probabilitySum: z.small[(3 * K)..<(4 * K)], entropySum: z[S.hSumR], rows: z[S.hRowsR],
                                          loss: out.loss.2, pairEntropy: z[S.hPairR] / n) : nil,
                classes: K)
        }
        clock.finished(.step(iteration: it))
        return out
    }
}
