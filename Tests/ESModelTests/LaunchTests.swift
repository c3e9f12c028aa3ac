// Launchers and multi-node MPI: launch/run-node.sh with 2 ranks (relative paths are the caller's), and 3 simulated nodes in
// network namespaces (Tests/tools/sim-cluster.sh, TCP between namespaces) running the
// communicator self-test. The multi-node test is skipped, with the reason printed, only where
// network namespaces cannot be created (not root, or no CAP_NET_ADMIN).
import XCTest
import ESTestSupport
import Foundation

final class LaunchTests: XCTestCase {
    let root = FileManager.default.currentDirectoryPath

    func run(_ exe: String, _ args: [String], timeout: TimeInterval = 180) throws -> (Int32, String) {
        try TestProcess.run(exe, args, timeout: timeout)
    }

    func testRunNodeTwoRanks() throws {
        let script = root + "/launch/run-node.sh"
        XCTAssertTrue(FileManager.default.fileExists(atPath: script), "run from the repository root")
        let (code, out) = try run("/bin/bash", [script, "-n", "2", "--", "doctor", "--check-mpi"])
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains("ranks: 2 (MPI)") && out.contains("mpi: OK"), out)
    }

    /// The launch scripts run esvit where they are called from: a relative path is the caller's.
    func testRunNodeResolvesRelativePathsInTheCallersFolder() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-cwd")
        let (code, out) = try run("/bin/bash", ["-c", "cd \"$1\" && \"$2\" -n 2 -- eval-knn --random-init --arch swin_mini --train-limit 40 "
                                                + "--test-limit 20 --no-baseline --features-dir feats", "-", tmp.path(""), root + "/launch/run-node.sh"])
        XCTAssertEqual(code, 0, out)
        let cached = try FileManager.default.contentsOfDirectory(atPath: tmp.path("feats"))
        XCTAssertFalse(cached.isEmpty, "the feature cache belongs in the caller's folder")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/feats"), "nothing written relative to the repository")
    }

    func testThreeSimulatedNodesOverTCP() throws {
        let tool = TestProcess.netnsTool
        if let reason = try TestProcess.netnsUnavailableReason() {
            print("skipping the multi-node test: \(reason)")
            throw XCTSkip(reason)
        }
        let esvit = ForwardCommandTests.esvitBinary
        let (code, out) = try run("/usr/bin/timeout", ["-k", "10", "150", "/bin/bash", tool, "with", "3", tool, "mpirun", "-np", "3",
                                                       esvit, "doctor", "--check-mpi"])
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains("ranks: 3 (MPI)") && out.contains("this host: node0"), out)
        XCTAssertTrue(out.contains("mpi: OK") && out.contains("3 ranks"), out)
    }
}
