// The launcher's task count against MPI's world size (LaunchEnvironment): which variable counts,
// when MPI is started, and which launches are refused.
import ESDistributed
import XCTest

final class LaunchEnvironmentTests: XCTestCase {
    func testAPlainProcessHasNoLauncher() {
        let l = LaunchEnvironment([:])
        XCTAssertEqual(l.tasks, 1); XCTAssertNil(l.source); XCTAssertFalse(l.wiredUp)
        XCTAssertNil(l.mismatch(worldSize: 1))
        XCTAssertEqual(l.summary, "none (a plain process)")
    }

    func testSrunWithoutPMIxIsAMismatch() throws {
        let l = LaunchEnvironment(["SLURM_STEP_NUM_TASKS": "2", "SLURM_NTASKS": "2", "SLURM_PROCID": "1"])
        XCTAssertEqual(l.tasks, 2); XCTAssertEqual(l.taskIndex, 1); XCTAssertFalse(l.wiredUp)
        let m = try XCTUnwrap(l.mismatch(worldSize: 1), "2 tasks in a world of 1 is a mismatch")
        XCTAssertEqual(m.source, "SLURM_STEP_NUM_TASKS=2")
        XCTAssertTrue("\(m)".contains("the launcher started 2 tasks (SLURM_STEP_NUM_TASKS=2) but MPI sees a world of 1"))
        XCTAssertTrue("\(m)".contains("srun --mpi=pmix"))
        XCTAssertThrowsError(try makeCommunicator(launch: l)) { XCTAssertEqual($0 as? LaunchMismatch, m) }
    }

    func testSrunWithPMIxAgreesWhenTheWorldMatches() {
        let l = LaunchEnvironment(["SLURM_STEP_NUM_TASKS": "4", "PMIX_RANK": "0"])
        XCTAssertTrue(l.wiredUp)
        XCTAssertNil(l.mismatch(worldSize: 4))
        XCTAssertNotNil(l.mismatch(worldSize: 1))
    }

    func testMpirunsCountWinsOverTheAllocation() {
        // mpirun inside an allocation: its ranks inherit the orted step's SLURM_STEP_NUM_TASKS=1.
        let l = LaunchEnvironment(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "3", "SLURM_STEP_NUM_TASKS": "1", "SLURM_NTASKS": "4"])
        XCTAssertEqual(l.tasks, 4); XCTAssertEqual(l.source, "OMPI_COMM_WORLD_SIZE=4"); XCTAssertEqual(l.taskIndex, 3)
        XCTAssertNil(l.mismatch(worldSize: 4))
        let m = l.mismatch(worldSize: 2)
        XCTAssertTrue(m.map { "\($0)".contains("the MPI wire-up disagrees with the launcher") && "\($0)".contains("mpirun") } ?? false)
    }

    func testPMISizeCounts() {
        let l = LaunchEnvironment(["PMI_SIZE": "3", "PMI_RANK": "0"])
        XCTAssertEqual(l.tasks, 3); XCTAssertNotNil(l.mismatch(worldSize: 1))
    }

    func testTheBatchShellOfAnAllocationIsOneProcessWithANote() {
        let l = LaunchEnvironment(["SLURM_NTASKS": "2", "SLURM_PROCID": "0", "SLURM_JOB_ID": "7"])
        XCTAssertEqual(l.tasks, 1); XCTAssertNil(l.mismatch(worldSize: 1)); XCTAssertFalse(l.wiredUp)
        XCTAssertEqual(l.allocationTasks, 2)
        XCTAssertTrue(l.summary.contains("srun --mpi=pmix"), l.summary)
    }
}
