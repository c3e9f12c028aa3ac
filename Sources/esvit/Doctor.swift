// `esvit doctor`: what this machine and launch look like to esvit (ranks, hosts, BLAS kernels,
// threads, datasets), and with --check-mpi a collective self-test across all ranks. Run it under
// the same mpirun line as a training job to check the launch before spending hours on it.
import ArgumentParser
import ESData
import ESDistributed
import ESKernels
import Foundation

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the environment and (with --check-mpi) the MPI launch: ranks, hosts, kernels, datasets.",
        discussion: """
        Examples: mpirun -np 2 .build/release/esvit doctor --check-mpi
                  srun --mpi=pmix -n 2 .build/release/esvit doctor --check-mpi
        It prints the launcher's task count beside MPI's world size and fails (exit 78) when they
        differ, e.g. srun without --mpi=pmix: the tasks would run as separate single processes.
        """)

    @Flag(help: "All-reduce and broadcast self-test across every rank (exits non-zero on a wrong result).") var checkMpi = false
    @Option(help: "Fashion-MNIST folder to look for.") var dataPath: String = FashionMNIST.defaultRoot

    func run() throws {
        let launch = LaunchEnvironment()
        let comm: Communicator
        do { comm = try makeCommunicator(launch: launch) } catch let m as LaunchMismatch {
            // Report what each side says, then fail: this launch would not train as one job.
            if launch.taskIndex == 0 {
                print("esvit doctor")
                print("  launcher: \(launch.summary)")
                print("  MPI world: \(m.worldSize) rank(s)")
                print("  launch: MISMATCH: \(m)")
            }
            throw ExitCode(LaunchMismatch.exitCode)
        }
        defer { (comm as? MPICommunicator)?.finalize() }
        if comm.isRoot {
            print("esvit doctor")
            print("  launcher: \(launch.summary)")
            print("  ranks: \(comm.size) (\(comm is MPICommunicator ? "MPI" : "single process")); this host: \(comm.processorName)"
                  + (launch.source == nil ? "" : "; launcher and MPI agree"))
            print("  OpenBLAS kernels: \(BLASSetup.coreName); cores visible: \(ProcessInfo.processInfo.activeProcessorCount); "
                  + "OPENBLAS_NUM_THREADS=\(ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] ?? "unset")")
            if let hint = BLASSetup.userChoiceNote { print("  note: \(hint)") }
            let fm = (try? FashionMNIST(root: dataPath, split: .test)).map { "found (\($0.count) test images)" } ?? "not found (apt-get install dataset-fashion-mnist)"
            print("  Fashion-MNIST at \(dataPath): \(fm)")
        }
        guard checkMpi else { return }
        let t = CollectiveSelfTest(comm)
        if comm.isRoot { print(t.failedRanks == 0 ? "  mpi: OK (all-reduce of \(t.elements) floats in chunks, doubles, broadcast, typed collectives; \(comm.size) ranks)"
                                                 : "  mpi: FAILED on \(t.failedRanks) rank(s)") }
        if t.failedRanks != 0 { throw ExitCode(1) }
    }
}
