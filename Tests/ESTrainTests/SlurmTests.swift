// The SLURM launch, tested with a real SLURM: munged, slurmctld and slurmd from Debian's packages
// on localhost (Tests/tools/slurm-local.sh, configuration in Tests/tools/slurm/), jobs submitted
// through the product's own launch/slurm.sbatch:
//   * 2 tasks of `doctor --check-mpi` form one MPI world of 2;
//   * a 3-iteration pretraining, and the same submission again resuming from its checkpoint;
//   * srun without PMIx (ESVIT_SRUN_MPI=none) is refused before any work (exit 78, one line);
//   * a second job on a folder a running job holds is refused, naming the owner;
//   * scancel --signal=TERM mid-run: every rank stops at one iteration, its checkpoint is written
//     within 10 s, the job exits 75, and a resubmission continues bit-exactly.
// The daemons are started once for the class and stopped by their pids when it ends. The tests
// skip only where a requirement is absent (not root, slurm-wlm, munge or the data not installed);
// daemons that are installed but do not start fail every test, with their logs.
import ESModel
import ESTestSupport
import Foundation
import XCTest

/// The daemons are up but SLURM refused a submission: a failure, not a skip.
struct SlurmError: Error, CustomStringConvertible { let message: String; var description: String { message } }

final class SlurmTests: XCTestCase {
    static var cluster: TemporaryDirectory?
    /// Why the tests cannot run here (a requirement is absent): they skip with it.
    static var unavailable: String?
    /// Everything SLURM needs is here, but the daemons did not start: the tests fail with this.
    static var broken: String?

    override class func setUp() {
        super.setUp()
        let enable = "run the tests as root with slurm-wlm, munge and dataset-fashion-mnist installed (launch/test.sh installs them)"
        guard Harness.haveData else { unavailable = "dataset-fashion-mnist is not installed; \(enable)"; return }
        do {
            let (c, o) = try TestProcess.run("/bin/bash", [SlurmTests.tool, "check"], timeout: 30)
            guard c == 0 else { unavailable = "\(o.trimmingCharacters(in: .whitespacesAndNewlines)); \(enable)"; return }
            let dir = try TemporaryDirectory(prefix: "esvit-slurm")
            cluster = dir
            let (c2, o2) = try TestProcess.run("/bin/bash", [SlurmTests.tool, "up", dir.path("cluster")], timeout: 90)
            if c2 != 0 { broken = "the SLURM daemons did not start: \(o2.trimmingCharacters(in: .whitespacesAndNewlines))\n" + daemonLogs(dir.path("cluster")) }
        } catch { broken = "starting the SLURM daemons: \(error)" }
    }

    /// The last lines of every daemon log under `dir`, each under its name.
    static func daemonLogs(_ dir: String) -> String {
        ["daemons.out", "munged.log", "slurmctld.log", "slurmd.log"].map { name in
            let text = (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)) ?? "(absent)\n"
            return "--- \(name) (last 20 lines):\n" + text.split(separator: "\n", omittingEmptySubsequences: false).suffix(21).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    override class func tearDown() {
        if let dir = cluster { _ = try? TestProcess.run("/bin/bash", [SlurmTests.tool, "down", dir.path("cluster")], timeout: 60) }
        cluster = nil
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let failure = SlurmTests.broken { throw SlurmError(message: failure) }
        if let reason = SlurmTests.unavailable {
            print("skipping the SLURM tests: \(reason)")
            throw XCTSkip(reason)
        }
    }

    static var tool: String { TestProcess.root + "/Tests/tools/slurm-local.sh" }
    var conf: String { SlurmTests.cluster!.path("cluster/slurm.conf") }
    var scratch: TemporaryDirectory { SlurmTests.cluster! }

    /// Submits launch/slurm.sbatch on one node with 2 tasks; returns the job id.
    func submit(_ name: String, _ esvitArgs: [String], env: [String: String] = [:]) throws -> Int {
        let out = scratch.path("\(name).out")
        let (c, o) = try TestProcess.run("/usr/bin/sbatch", ["--parsable", "-N1", "--ntasks-per-node=2", "--cpus-per-task=1", "-o", out,
                                                             TestProcess.root + "/launch/slurm.sbatch"] + esvitArgs,
                                         env: ["SLURM_CONF": conf, "ESVIT_BIN": TestProcess.esvit].merging(env) { $1 }, timeout: 30)
        let id = Int(o.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first ?? "")
        guard c == 0, let id else { throw SlurmError(message: "sbatch failed with exit code \(c): \(o)") }
        return id
    }

    /// State and exit code of a job ("COMPLETED", 0); nil while it is pending or running.
    func finished(_ job: Int) throws -> (state: String, code: Int32)? {
        let (_, o) = try TestProcess.run("/usr/bin/scontrol", ["show", "job", "-o", "\(job)"], env: ["SLURM_CONF": conf], timeout: 30)
        func field(_ k: String) -> String? {
            o.split(separator: " ").first { $0.hasPrefix(k + "=") }.map { String($0.dropFirst(k.count + 1)) }
        }
        guard let state = field("JobState"), !["PENDING", "RUNNING", "CONFIGURING", "COMPLETING"].contains(state) else { return nil }
        return (state, Int32(field("ExitCode")?.split(separator: ":").first ?? "") ?? -1)
    }

    /// Waits for the job to end; returns its exit code and output.
    func wait(_ job: Int, _ name: String, timeout: TimeInterval = 240) throws -> (Int32, String) {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let f = try finished(job) { return (f.code, (try? String(contentsOfFile: scratch.path("\(name).out"), encoding: .utf8)) ?? "") }
            usleep(200_000)
        }
        _ = try? TestProcess.run("/usr/bin/scancel", ["\(job)"], env: ["SLURM_CONF": conf])
        XCTFail("job \(job) (\(name)) did not end within \(timeout) s")
        return (-1, (try? String(contentsOfFile: scratch.path("\(name).out"), encoding: .utf8)) ?? "")
    }

    func run(_ name: String, _ args: [String], env: [String: String] = [:]) throws -> (Int32, String) {
        try wait(try submit(name, args, env: env), name)
    }

    func testDoctorSeesTwoRanksAsOneMPIWorld() throws {
        let (c, o) = try run("doctor", ["doctor", "--check-mpi"])
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("launcher: 2 tasks (SLURM_STEP_NUM_TASKS=2)"), o)
        XCTAssertTrue(o.contains("ranks: 2 (MPI)"), o)
        XCTAssertTrue(o.contains("mpi: OK"), o)
        XCTAssertEqual(o.components(separatedBy: "esvit doctor").count - 1, 1, "one report, from rank 0:\n\(o)")
    }

    func testPretrainingRunsAsOneJobAndTheSameSubmissionResumes() throws {
        let dir = scratch.path("three")
        let args = ["pretrain"] + Harness.tiny + ["--batch-size-per-rank", "4", "--max-iters", "3", "--output-dir", dir]
        let (c, o) = try run("three", args)
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("ranks 2 × batch 4 × accumulation 1 = global batch 8"), o)
        XCTAssertTrue(o.contains("checkpoint: \(dir)/checkpoint.safetensors (iteration 3)"), o)
        XCTAssertEqual(try Harness.losses(dir).keys.sorted(), [1, 2, 3])
        let (c2, o2) = try run("three-again", args)
        XCTAssertEqual(c2, 0, o2)
        XCTAssertTrue(o2.contains("resuming from \(dir)/checkpoint.safetensors: iteration 3"), o2)
        XCTAssertTrue(o2.contains("nothing to do: the run is at iteration 3"), o2)
    }

    func testTasksWithoutPMIxAreRefusedBeforeAnyWork() throws {
        let dir = scratch.path("nopmix")
        let (c, o) = try run("nopmix", ["pretrain"] + Harness.tiny + ["--batch-size-per-rank", "4", "--max-iters", "3", "--output-dir", dir],
                             env: ["ESVIT_SRUN_MPI": "none"])
        XCTAssertEqual(c, 78, o)
        let line = "error: the launcher started 2 tasks (SLURM_STEP_NUM_TASKS=2) but MPI sees a world of 1"
        XCTAssertEqual(o.components(separatedBy: line).count - 1, 1, "one line naming the cause:\n\(o)")
        XCTAssertTrue(o.contains("srun --mpi=pmix"), "and the fix:\n\(o)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir), "no work was done")
        let (cd, od) = try run("nopmix-doctor", ["doctor", "--check-mpi"], env: ["ESVIT_SRUN_MPI": "none"])
        XCTAssertEqual(cd, 78, od)
        XCTAssertTrue(od.contains("launcher: 2 tasks (SLURM_STEP_NUM_TASKS=2)") && od.contains("MPI world: 1 rank(s)"), od)
        XCTAssertTrue(od.contains("launch: MISMATCH"), od)
    }

    func testLockedFolderAndSignalStopAndBitExactResubmission() throws {
        let dir = scratch.path("signal"), ref = scratch.path("reference")
        let base = ["pretrain"] + Harness.tiny + ["--batch-size-per-rank", "4"]
        let job = try submit("long", base + ["--output-dir", dir])
        // Wait until it trains, then a second job on the same folder must be refused.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, (try? Harness.losses(dir))?.count ?? 0 < 3 { usleep(100_000) }
        XCTAssertNil(try finished(job), "the long job should still be running")
        let (c2, o2) = try run("second", base + ["--output-dir", dir])
        XCTAssertNotEqual(c2, 0, o2)
        XCTAssertTrue(o2.contains("--output-dir \(dir) is in use by a run on host"), o2)
        XCTAssertTrue(o2.contains("(it holds \(dir)/run.lock)"), o2)
        // SLURM's SIGTERM (as at a time limit) to every task: one agreed stop, a checkpoint, exit 75.
        let signalled = Date()
        _ = try TestProcess.run("/usr/bin/scancel", ["--signal=TERM", "\(job)"], env: ["SLURM_CONF": conf])
        let (c, o) = try wait(job, "long", timeout: 60)
        let seconds = Date().timeIntervalSince(signalled)
        print("SLURM scancel --signal=TERM: the job ended \(String(format: "%.2f", seconds)) s later with exit code \(c)")
        XCTAssertEqual(c, 75, o)
        XCTAssertLessThan(seconds, 10, o)
        let stop = try XCTUnwrap(GracefulStop.stoppedAt(o, signal: "SIGTERM"), o)
        XCTAssertEqual(try GracefulStop.checkpointIteration(dir), stop)
        // The resubmission (bounded here so the test is short) continues bit-exactly.
        let (c3, o3) = try run("resumed", base + ["--output-dir", dir, "--max-iters", "\(stop + 3)"])
        XCTAssertEqual(c3, 0, o3)
        XCTAssertTrue(o3.contains("resuming from \(dir)/checkpoint.safetensors: iteration \(stop)"), o3)
        let (c4, o4) = try run("reference", base + ["--output-dir", ref, "--max-iters", "\(stop + 3)"])
        XCTAssertEqual(c4, 0, o4)
        try GracefulStop.assertSameLosses(dir, ref, through: stop + 3)
    }
}
