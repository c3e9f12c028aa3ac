// Before the first iteration: the output folder is locked (rank 0), the state is loaded or
// broadcast, and the run is planned once — its length (a --time-budget plan measured here, or
// the plan of the budgeted run a checkpoint continues), its first iteration, the hosts — and
// printed; config.json records it. Errors found on rank 0 reach every rank, which all throw.
import ESDistributed
import ESEval
import ESKernels
import ESObjective
import Foundation

extension Trainer {
    /// Rank 0 locks the output folder for this run; the outcome is shared so every rank fails together.
    func lockOutputFolder() throws -> RunLock? {
        var failure: String? = nil, lock: RunLock? = nil
        if comm.isRoot {
            do {
                let prepared = try files.prepare()
                lock = prepared.lock
                if let note = prepared.lock.takeover { reporter.say(note) }
                if !prepared.stale.isEmpty { reporter.say("removed stale temp files from an interrupted write: \(prepared.stale.joined(separator: ", "))") }
            } catch { failure = "\(error)" }
        }
        try agree(failure)
        return lock
    }

    /// Every rank learns rank 0's error (if any) and throws it.
    func agree(_ rootError: String?) throws {
        if let e = try comm.broadcast(rootError) { throw TrainError.config(e) }
    }

    /// Loads or broadcasts the state and decides the run. A fresh run evaluates the initial
    /// teacher here (before the budget probe, so its cost is measured).
    func makePlan(_ model: EsViT, knn: PeriodicKNN?) throws -> RunPlan {
        var c = config
        let start = try loadOrBroadcastState(model)
        if c.timeBudgetMinutes != nil, let planned = start.plannedIterations {
            // A resumed budgeted run finishes the plan it made at its start.
            c.budgetPlan = start.budgetPlan; c.iterations = planned
            reporter.say("continuing the time-budgeted run's plan of \(planned) iterations (planned when it started)")
        }
        var L = try adopt(&c)
        let first = start.firstIteration(L, accumulation: c.gradAccumSteps)
        reporter.firstIteration = first.iteration
        first.notes.forEach(reporter.say)
        let hosts = try hostSummary()
        func plan(_ budget: BudgetPlan?) -> RunPlan {
            RunPlan(config: c, layout: L, start: start, firstIteration: first.iteration, budget: budget, hosts: hosts, startedAt: startedAt)
        }
        let budgeted = c.timeBudgetMinutes != nil && c.iterations == nil
        if !budgeted {
            reporter.plan(plan(nil), model: model)
            if plan(nil).nothingToDo { return plan(nil) }
        }
        let evalStart = clock.now()
        if first.iteration == 0, let knn { _ = evaluate(knn, model: model, iteration: 0, epoch: 0) }
        var budget: BudgetPlan? = nil
        if budgeted, let minutes = c.timeBudgetMinutes {
            let p = try planTimeBudget(model, minutes: minutes, evalSeconds: clock.now() - evalStart)
            c.budgetPlan = p; c.iterations = first.iteration + p.iterations
            L = try adopt(&c)
            budget = p
            reporter.plan(plan(p), model: model)
            reporter.budget(p, minutes: minutes, iterationsPerEpoch: L.iterationsPerEpoch)
        }
        if comm.isRoot { try files.writeAtomically(plan(budget).configJSON(), to: files.configFile) }
        return plan(budget)
    }

    /// The layout of `c` on this world; with a fixed iteration count `c.epochs` records the epochs it touches.
    func adopt(_ c: inout PretrainConfig) throws -> RunLayout {
        let L = try RunLayout(config: c, worldSize: comm.size, datasetCount: source.count)
        if c.iterations != nil { c.epochs = L.epochs }
        return L
    }

    /// Host names in rank order, collapsed: "node0, node1" or "node0 (2 ranks)".
    func hostSummary() throws -> String {
        let names = try comm.allGather(comm.processorName)
        var groups: [(String, Int)] = []
        for n in names { if let last = groups.last, last.0 == n { groups[groups.count - 1].1 += 1 } else { groups.append((n, 1)) } }
        return groups.map { $0.1 > 1 ? "\($0.0) (\($0.1) ranks)" : $0.0 }.joined(separator: ", ")
    }

    /// Compares a checksum of student and teacher across ranks; a mismatch stops every rank.
    func checkConsistency(_ model: EsViT, iteration: Int) throws {
        guard comm.size > 1 else { return }
        let mine = Trainer.checksum(model.student, model.teacher)
        let differ = comm.ranksDiffering(from: mine)
        guard differ > 0 else { return }
        FileHandle.standardError.write(Data("rank \(comm.rank): parameter checksum \(String(mine, radix: 16)) at iteration \(iteration)\n".utf8))
        throw TrainError.mismatch("parameters differ across ranks at iteration \(iteration): \(differ) of \(comm.size) rank(s) disagree with rank 0. "
                                  + "The replicas must stay identical; this points at a non-deterministic kernel or a damaged rank. No checkpoint was written for this iteration.")
    }

    /// Order-sensitive 64-bit hash of the raw bits of the given buffers (FNV-1a over 8 lanes).
    static func checksum(_ buffers: FloatBuffer...) -> UInt64 {
        var h = FNV1a64()
        for b in buffers { b.pointer.withMemoryRebound(to: UInt32.self, capacity: b.count) { h.updateLanes8(words: $0, count: b.count) } }
        return h.value
    }
}
