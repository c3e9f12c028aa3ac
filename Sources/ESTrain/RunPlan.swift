// A run, decided once before its first iteration: the configuration with the run length fixed
// (a --time-budget plan adopted, or the plan of the budgeted run a checkpoint continues), the
// layout it implies for this world size, where the run starts (resume position) and what
// follows each finished iteration — a progress line, an epoch summary, a checkpoint, a periodic
// evaluation, a cross-rank parameter check. The loop only asks; nothing here changes mid-run.
import ESCheckpoint
import Foundation

public struct RunPlan: Sendable {
    public let config: PretrainConfig
    public let layout: RunLayout
    let start: RunStart
    public let firstIteration: Int
    /// The plan this command made for --time-budget (nil: sized by epochs or iterations, or a
    /// budgeted run continued from a checkpoint, whose plan is `config.budgetPlan`).
    public let budget: BudgetPlan?
    /// Host names of the ranks, collapsed ("node0 (2 ranks), node1").
    public let hosts: String
    /// When the command started (the origin of --time-budget), on the run's clock.
    let startedAt: Double

    public var stopIteration: Int { layout.stopIteration }
    public var nothingToDo: Bool { firstIteration >= stopIteration }
    var iterationsPerEpoch: Int { layout.iterationsPerEpoch }

    func epoch(of it: Int) -> Int { it / iterationsPerEpoch }

    /// The iteration that starts at `it` gathers the teacher's collapse statistics and is
    /// followed by a progress line (the first, every --log-every-th and the last).
    func logs(before it: Int) -> Bool { it == firstIteration || (it + 1) % config.logEvery == 0 || it + 1 == stopIteration }

    // After finished iteration `it` (1-based):
    func epochEnds(after it: Int) -> Bool { it % iterationsPerEpoch == 0 }
    func checkpointDue(after it: Int) -> Bool { config.checkpointDue(after: it, iterationsPerEpoch: iterationsPerEpoch) }
    func evaluationDue(after it: Int) -> Bool { config.evaluationDue(after: it, iterationsPerEpoch: iterationsPerEpoch) }
    var evaluatesAtEnd: Bool { config.evaluatesAtEnd }
    func parameterCheckDue(after it: Int) -> Bool { it % config.checkEvery == 0 }
    /// The numbered copy checkpoint<EPOCH>.safetensors written after `it` (every --saveckp-freq epochs).
    func numberedCheckpoint(after it: Int) -> Int? {
        let e = epoch(of: it)
        return epochEnds(after: it) && config.saveckpFreq > 0 && e % config.saveckpFreq == 0 ? e : nil
    }

    /// The checkpoint record after `it`: the position in the sample order, so any world size can continue.
    func checkpointInfo(after it: Int) -> CheckpointInfo {
        CheckpointInfo(epoch: epoch(of: it), iteration: it,
                       globalSamplePosition: start.globalSamplePosition + (it - firstIteration) * layout.globalBatch,
                       seed: config.seed, worldSize: layout.worldSize, samplesIntoEpoch: (it % iterationsPerEpoch) * layout.globalBatch)
    }

    /// The deadline of a --time-budget command (nil without one).
    var deadline: BudgetDeadline? {
        config.timeBudgetMinutes.map { BudgetDeadline(end: startedAt + $0 * 60, plan: config.budgetPlan) }
    }

    /// Checkpoint metadata: the run's configuration and layout.
    var checkpointMetadata: [String: String] { CheckpointMetadata.run(configuration: config, layout: layout) }

    /// config.json: the resolved configuration, the layout and the hosts.
    func configJSON() throws -> String {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        struct Resolved: Encodable { let config: PretrainConfig; let layout: RunLayout; let hosts: String }
        return String(decoding: try enc.encode(Resolved(config: config, layout: layout, hosts: hosts)), as: UTF8.self) + "\n"
    }
}

/// Where a run starts: the checkpoint's position (a fresh run: the start of epoch 0).
struct RunStart: Sendable {
    var resumed = false
    var epoch = 0, samplesIntoEpoch = 0
    var worldSize: Int
    var globalSamplePosition = 0
    /// The iteration count a --time-budget run planned, from the checkpoint's configuration.
    var plannedIterations: Int? = nil
    /// That run's plan (its cost figures seed the deadline check).
    var budgetPlan: BudgetPlan? = nil

    /// The first iteration of this run with `layout`, and a note when the checkpoint's position is
    /// not on a batch boundary of this layout or was written by another world size.
    func firstIteration(_ L: RunLayout, accumulation A: Int) -> (iteration: Int, notes: [String]) {
        let perLoaderIt = L.globalBatch / A
        var loaderStart = samplesIntoEpoch / perLoaderIt
        loaderStart -= loaderStart % A
        var it = epoch * L.iterationsPerEpoch + loaderStart / A
        var notes: [String] = []
        guard resumed else { return (it, notes) }
        if loaderStart * perLoaderIt != samplesIntoEpoch {
            notes.append("note: the checkpoint stopped \(samplesIntoEpoch) samples into epoch \(epoch); with this layout the run continues at \(loaderStart * perLoaderIt) (a batch boundary)")
        }
        if worldSize != L.worldSize { notes.append("resuming with \(L.worldSize) rank(s); the checkpoint was written by \(worldSize): the sample order continues from the stored position") }
        if loaderStart / A >= L.iterationsPerEpoch { it = (epoch + 1) * L.iterationsPerEpoch }
        return (it, notes)
    }
}
