// What the launcher says about this process, read from its environment, and the check that MPI
// agrees with it. A launcher that starts N tasks without wiring them up as one MPI job (srun
// without --mpi=pmix under Open MPI, another MPI's mpiexec) gives N independent single-process
// runs; the check refuses that before any work instead of letting N trainings race.
//
// Task-count sources, most specific first:
//   OMPI_COMM_WORLD_SIZE    Open MPI's mpirun (also inside a SLURM allocation)
//   PMI_SIZE                PMI-1/PMI-2 launchers (MPICH's hydra, srun --mpi=pmi2)
//   SLURM_STEP_NUM_TASKS    srun (a job step); with PMIx wire-up this is MPI's world too
// SLURM_NTASKS alone (the batch shell of an allocation, no step) is only a note: a command run
// directly in an sbatch script is one process by design (e.g. an evaluation after training).
import Foundation

public struct LaunchEnvironment: Equatable, Sendable {
    /// Tasks the launcher started (1 without a launcher).
    public let tasks: Int
    /// The variable that says so, e.g. "SLURM_STEP_NUM_TASKS=2" (nil without a launcher).
    public let source: String?
    /// An MPI wire-up is present (mpirun's or a PMIx/PMI server's variables).
    public let wiredUp: Bool
    /// This task's index as the launcher numbers them (0 without a launcher).
    public let taskIndex: Int
    /// Tasks of the SLURM allocation when this process is not one of its steps' tasks.
    public let allocationTasks: Int?

    public init(_ env: [String: String] = ProcessInfo.processInfo.environment) {
        wiredUp = env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil || env["PMI_RANK"] != nil
        let counted = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"].lazy
            .compactMap { key in env[key].flatMap(Int.init).map { (key, $0) } }.first
        tasks = counted?.1 ?? 1
        source = counted.map { "\($0.0)=\($0.1)" }
        taskIndex = ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"].lazy.compactMap { env[$0].flatMap(Int.init) }.first ?? 0
        let allocation = env["SLURM_NTASKS"].flatMap(Int.init)
        allocationTasks = counted == nil && (allocation ?? 1) > 1 ? allocation : nil
    }

    /// The refusal for an MPI world of `worldSize` under this launch, or nil when they agree.
    public func mismatch(worldSize: Int) -> LaunchMismatch? {
        guard let source, tasks != worldSize else { return nil }
        return LaunchMismatch(tasks: tasks, source: source, worldSize: worldSize, wiredUp: wiredUp)
    }

    /// One line for reports: "2 tasks (SLURM_STEP_NUM_TASKS=2)" or "none (a plain process)".
    public var summary: String {
        guard let source else {
            return allocationTasks.map { "none: run directly in a SLURM allocation of \($0) tasks (SLURM_NTASKS); use srun --mpi=pmix to start them all" }
                ?? "none (a plain process)"
        }
        return "\(tasks) task\(tasks == 1 ? "" : "s") (\(source))"
    }
}

/// The launcher started `tasks` processes but MPI formed a world of `worldSize`.
public struct LaunchMismatch: Error, CustomStringConvertible, Equatable {
    public let tasks: Int, source: String, worldSize: Int, wiredUp: Bool
    /// Exit code of a refused launch (sysexits' EX_CONFIG).
    public static let exitCode: Int32 = 78

    public var description: String {
        let cause = wiredUp ? "the MPI wire-up disagrees with the launcher"
                            : "no MPI wire-up (PMIx/PMI) reached the tasks, so each would run alone"
        let fix = source.hasPrefix("SLURM")
            ? "start the tasks with 'srun --mpi=pmix' (check 'srun --mpi=list'; Debian's Open MPI has no PMI-2) or with mpirun inside the allocation"
            : "start esvit with the mpirun of the Open MPI it was built against (launch/run-node.sh, launch/run-cluster.sh)"
        return "the launcher started \(tasks) tasks (\(source)) but MPI sees a world of \(worldSize): \(cause). Refusing to run them as \(tasks) "
            + "independent processes; \(fix)."
    }
}
