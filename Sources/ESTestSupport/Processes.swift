// Running the built `esvit` binary, the launch scripts and mpirun from tests: one helper with a
// timeout, merged stdout+stderr, no stdin, and the parent's MPI environment removed (a test
// process must not look like an MPI rank to the children it starts).
import ESKernels
import Foundation

public enum TestProcess {
    /// The repository root (tests run from it).
    public static var root: String { FileManager.default.currentDirectoryPath }

    /// The esvit binary built beside the test bundle.
    public static var esvit: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("esvit").path
    }

    public static var mpirun: String? {
        ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The environment children get: ours without OMPI_/PMIX_ variables, root allowed for mpirun.
    public static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OMPI_") && !$0.key.hasPrefix("PMIX_") }
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"; env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Starts `executable` with `args`; output goes to `pipe`.
    public static func start(_ executable: String, _ args: [String], env: [String: String] = [:], output: Pipe) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: root)
        p.environment = environment(env)
        p.standardOutput = output; p.standardError = output; p.standardInput = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Runs to completion; returns (exit code, output). After `timeout` seconds it is sent SIGTERM
    /// (esvit stops at a checkpoint), and 10 s later it and every process below it get SIGKILL,
    /// so a hung job ends the call instead of hanging the test.
    public static func run(_ executable: String, _ args: [String], env: [String: String] = [:], timeout: TimeInterval = 180) throws -> (Int32, String) {
        let pipe = Pipe()
        let p = try start(executable, args, env: env, output: pipe)
        let pid = p.processIdentifier
        let killer = DispatchWorkItem {
            guard p.isRunning else { return }
            p.terminate()
            DispatchQueue.global().asyncAfter(deadline: .now() + 10) {
                if p.isRunning { ProcessTree.killTree(pid) }
            }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let out = String(data: pipe.fileHandleForReading.readDataToEndOfFile(), encoding: .utf8) ?? ""
        p.waitUntilExit()
        killer.cancel()
        return (p.terminationStatus, out)
    }

    /// Waits up to `timeout` seconds for `p` to exit. If it has not by then, it and every process
    /// below it (mpirun, the ranks) are killed and the answer is false: a test that waits for a
    /// job to stop fails instead of hanging.
    public static func wait(_ p: Process, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        guard p.isRunning else { return true }
        let pid = p.processIdentifier
        ProcessTree.killTree(pid)
        p.waitUntilExit()
        return false
    }
}

extension TestProcess {
    /// Tests/tools/sim-cluster.sh: the project's simulated cluster (network namespaces, TCP).
    public static var netnsTool: String { root + "/Tests/tools/sim-cluster.sh" }

    /// Why simulated nodes cannot run here (not root, no iproute2, no CAP_NET_ADMIN), with the
    /// command that would enable them; nil when they can.
    public static func netnsUnavailableReason() throws -> String? {
        let (code, out) = try run("/bin/bash", [netnsTool, "check"], timeout: 60)
        guard code != 0 else { return nil }
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
            + "; to run the multi-node tests: as root with iproute2 installed (apt-get install iproute2), `launch/test.sh`"
    }
}
