// Pretraining across 3 simulated nodes (network namespaces from Tests/tools/sim-cluster.sh,
// TCP between them) through the product's multi-node launcher, launch/run-cluster.sh, with the
// hostfile of their addresses; then the checkpoint written by rank 0 is loaded by a new run on
// one process. Skipped, with the reason printed, only where network namespaces cannot be made.
import ESTestSupport
import Foundation
import XCTest

final class MultiNodeTrainingTests: XCTestCase {
    func testThreeNodesTrainAndTheirCheckpointLoads() throws {
        guard Harness.haveData else { throw XCTSkip("dataset-fashion-mnist is not installed") }
        if let reason = try TestProcess.netnsUnavailableReason() {
            print("skipping the multi-node pretraining test: \(reason)")
            throw XCTSkip(reason)
        }
        let tmp = try TemporaryDirectory(prefix: "esvit-nodes")
        let dir = tmp.path("run"), tool = TestProcess.netnsTool
        // The simulated cluster needs its rsh agent and interface selection; real sites put such
        // settings in OMPI_MCA_* variables or ESVIT_MPIRUN_FLAGS the same way.
        let env = ["OMPI_MCA_plm_rsh_agent": "\(tool) agent", "OMPI_MCA_btl_tcp_if_include": "10.200.0.0/24",
                   "OMPI_MCA_oob_tcp_if_include": "10.200.0.0/24", "OMPI_MCA_mpi_yield_when_idle": "1"]
        let script = "\"$0\" exec 0 \"$1\" --hostfile \"$NETNS_HOSTFILE\" -n 3 --bind none -- pretrain \"${@:2}\""
        let (code, out) = try TestProcess.run("/usr/bin/timeout", ["-k", "10", "300", "/bin/bash", tool, "with", "3", "/bin/bash", "-c", script,
                                                                   tool, TestProcess.root + "/launch/run-cluster.sh"]
                                              + Harness.tiny + ["--batch-size-per-rank", "4", "--max-iters", "3", "--output-dir", dir],
                                              env: env, timeout: 330)
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains("ranks 3 × batch 4 × accumulation 1 = global batch 12"), out)
        XCTAssertTrue(out.contains("hosts: node0, node1, node2"), out)
        XCTAssertTrue(out.contains("checkpoint: \(dir)/checkpoint.safetensors (iteration 3)"), out)
        // The checkpoint loads: one process with the whole global batch continues from it.
        let (c, o) = try Harness.single(Harness.tiny + ["--batch-size-per-rank", "12", "--max-iters", "4", "--output-dir", dir])
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("resuming from \(dir)/checkpoint.safetensors: iteration 3"), o)
        XCTAssertTrue(o.contains("resuming with 1 rank(s); the checkpoint was written by 3"), o)
        XCTAssertEqual(try Harness.losses(dir).keys.sorted(), [1, 2, 3, 4])
    }
}
