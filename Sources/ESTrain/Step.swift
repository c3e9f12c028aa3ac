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

/// Buffers reused by every step: the small all-reduce, declared as named fields (the objective's
/// center sums and teacher statistics, then the step's own losses and counts), and the
/// gradient-accumulation buffer.
final class StepScratch {
    let sums: NamedSums
    let objective: ObjectiveSums
    let loss, lossView, lossRegion, nonFinite, replaced: NamedSums.Field
    let accum: FloatBuffer?
    init(classes K: Int, parameters P: Int, accumulation A: Int) {
        var layout = NamedSums.Layout()
        objective = ObjectiveSums(declaringIn: &layout, classes: K)
        loss = layout.scalar("loss"); lossView = layout.scalar("view loss"); lossRegion = layout.scalar("region loss")
        nonFinite = layout.scalar("non-finite micro-batches"); replaced = layout.scalar("replaced images")
        sums = NamedSums(layout)
        accum = A > 1 ? FloatBuffer(count: P) : nil
    }
}

/// What one iteration measured, averaged over ranks and micro-batches where it is a mean.
struct StepOutcome {
    var loss = LossValues(total: 0, view: 0, region: 0)
    var dataWait = 0.0, compute = 0.0, syncWait = 0.0, reduce = 0.0
    var replaced = 0
    var teacher: TeacherSummary? = nil
}

extension Trainer {
    /// Runs iteration `it` (micro-batches from `loader`). With `statistics`, the teacher's collapse
    /// statistics are gathered too. A non-finite loss on any rank throws on every rank before any
    /// update; `lastCheckpoint` names the checkpoint that stays valid.
    func trainStep(_ model: EsViT, loader: MultiCropLoader, hyper: StepHyper, scratch: StepScratch, iteration it: Int,
                   statistics: Bool, lastCheckpoint: String?) throws -> StepOutcome {
        let c = config, W = comm.size, A = c.gradAccumSteps, K = c.head.outDim, P = model.table.totalCount
        var out = StepOutcome()
        let z = scratch.sums
        z.reset()
        for micro in 0..<A {
            guard let batch = loader.next() else { throw TrainError.data("the loader ran out of batches at iteration \(it) (internal error)") }
            out.dataWait += loader.lastWait
            z[scratch.replaced] += Double(batch.replaced)
            do {
                var v = try model.forwardBackward(globals: batch.globals.pointer, locals: c.crops.localCrops > 0 ? batch.locals.pointer : nil,
                                                  teacherTemperature: hyper.teacherTemperature, sampleKeys: batch.sampleKeys,
                                                  regionLoss: hyper.regionLoss)
                out.compute += model.times.forwardBackward
                if faults?.poisonsLoss(at: it) == true { v.total = .nan }
                guard v.total.isFinite else { throw LossError.nonFinite(view: v.view, region: v.region) }
                z[scratch.loss] += v.total; z[scratch.lossView] += v.view; z[scratch.lossRegion] += v.region
                model.addSums(to: z, scratch.objective, statistics: statistics)
                if let accum = scratch.accum {
                    if micro == 0 { accum.pointer.update(from: model.grads.pointer, count: P) }
                    else { VectorMath.add(model.grads.pointer, into: accum.pointer, P) }
                }
            } catch {
                z[scratch.nonFinite] += 1
            }
        }
        // Center sums, losses and flags from every rank. The first collective after the compute
        // also absorbs waiting for the slowest rank.
        let tr0 = clock.now()
        comm.allReduceSum(z.values, count: z.count)
        out.syncWait = clock.now() - tr0
        if z[scratch.nonFinite] > 0 {
            let kept = lastCheckpoint ?? (FileManager.default.fileExists(atPath: files.latestCheckpoint) ? files.latestCheckpoint : nil)
            throw TrainError.nonFinite("non-finite loss at iteration \(it) (epoch \(it / layout.iterationsPerEpoch)) on \(Int(z[scratch.nonFinite])) micro-batch(es); every rank stopped before updating. "
                + (kept.map { "The last good checkpoint is \($0)." } ?? "No checkpoint was written yet.")
                + " Hint: lower \(option(\.config.lr)), raise the lr warmup or lower \(option(\.config.teacherTemp)).")
        }
        // Gradients: sum over ranks and micro-batches, then average.
        if let accum = scratch.accum { model.grads.pointer.update(from: accum.pointer, count: P) }
        comm.allReduceSum(model.grads.pointer, count: P)
        if W * A > 1 { VectorMath.scale(model.grads.pointer, by: 1 / Float(W * A), P) }
        out.reduce = clock.now() - tr0
        if let dir = faults?.gradientDumpFolder, comm.isRoot {
            var w = SafeTensorsWriter()
            Weights.add(model.table, model.grads.pointer, to: &w, filePrefix: "grad.")
            try w.write(to: (dir as NSString).appendingPathComponent("grads\(it).safetensors"))
        }
        // Identical updates everywhere.
        model.updateCenters(from: z, scratch.objective)
        model.optimizerStep(hyper)
        out.compute += model.times.optimizer
        if faults?.desyncs(at: it) == true { model.student[0] += 1e-3 }
        let n = Double(W * A)
        out.loss = LossValues(total: z[scratch.loss] / n, view: z[scratch.lossView] / n, region: z[scratch.lossRegion] / n)
        out.replaced = Int(z[scratch.replaced])
        if statistics {
            let t = model.teacherHeads(from: z, scratch.objective, microBatches: n)
            out.teacher = TeacherSummary(view: TeacherSummary.Head(t.view, loss: out.loss.view),
                                         region: t.region.map { TeacherSummary.Head($0, loss: out.loss.region) }, classes: K)
        }
        clock.finished(.step(iteration: it))
        return out
    }
}
