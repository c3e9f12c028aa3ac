// `esvit doctor`: what this machine and launch look like to esvit (ranks, hosts, BLAS kernels,
// threads, datasets), and with --check-mpi a collective self-test across all ranks. Run it under
// the same mpirun line as a training job to check the launch before spending hours on it.
import ArgumentParser
import COpenBLAS
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
            let fm = (try? FashionMNIST(root: dataPath, split: .test)).map { "found (\($0.count) test images)" } ?? "not found (apt-get install dataset-fashion-mnist)"
            print("  Fashion-MNIST at \(dataPath): \(fm)")
        }
        guard checkMpi else { return }
        // Every rank contributes rank+1 to a buffer larger than one reduction chunk.
        let n = 5_000_003
        let buf = FloatBuffer(count: n)
        for i in 0..<n { buf[i] = Float(comm.rank + 1) }
        comm.allReduceSum(buf.pointer, count: n)
        let want = Float(comm.size * (comm.size + 1) / 2)
        var ok = (0..<n).allSatisfy { buf[$0] == want }
        var d = [Double(comm.rank)]
        d.withUnsafeMutableBufferPointer { comm.allReduceSum($0.baseAddress!, count: 1) }
        ok = ok && d[0] == Double(comm.size * (comm.size - 1) / 2)
        let b = FloatBuffer(count: 1000)
        for i in 0..<1000 { b[i] = comm.isRoot ? Float(i) : -1 }
        comm.broadcast(b.pointer, count: 1000, root: 0)
        ok = ok && (0..<1000).allSatisfy { b[$0] == Float($0) }
        // Everyone learns whether everyone passed.
        var flag = [ok ? 0.0 : 1.0]
        flag.withUnsafeMutableBufferPointer { comm.allReduceSum($0.baseAddress!, count: 1) }
        if comm.isRoot { print(flag[0] == 0 ? "  mpi: OK (all-reduce of \(n) floats in chunks, doubles, broadcast; \(comm.size) ranks)"
                                            : "  mpi: FAILED on \(Int(flag[0])) rank(s)") }
        if flag[0] != 0 { throw ExitCode(1) }
    }
}
