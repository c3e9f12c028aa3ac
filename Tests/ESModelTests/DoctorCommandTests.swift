// `esvit doctor --check-mpi` as a plain process and under `mpirun -np 2` (one node, shared
// memory): the MPI communicator's all-reduce (chunked, 5M floats), double all-reduce and
// broadcast give the right sums on every rank, and only rank 0 prints.
import XCTest
import ESTestSupport
import Foundation

final class DoctorCommandTests: XCTestCase {
    func run(_ executable: String, _ args: [String], timeout: TimeInterval = 90) throws -> (Int32, String) {
        try TestProcess.run(executable, args, timeout: timeout)
    }

    func testSingleProcess() throws {
        let (code, out) = try run(ForwardCommandTests.esvitBinary, ["doctor", "--check-mpi"])
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains("ranks: 1 (single process)") && out.contains("mpi: OK"), out)
    }

    func testTwoRanksUnderMpirun() throws {
        guard let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("mpirun not found (install openmpi-bin)")
        }
        let (code, out) = try run(mpirun, ["-np", "2", "--mca", "pml", "ob1", "--mca", "btl", "self,vader",
                                           ForwardCommandTests.esvitBinary, "doctor", "--check-mpi"])
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains("ranks: 2 (MPI)"), out)
        XCTAssertTrue(out.contains("mpi: OK") && out.contains("2 ranks"), out)
        XCTAssertEqual(out.components(separatedBy: "esvit doctor").count - 1, 1, "only rank 0 prints: \(out)")
    }
}
