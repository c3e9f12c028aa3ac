// Collective communication for data-parallel training, behind one protocol so the trainer runs
// the same code as a plain process and under mpirun (one node or many). This target is the only
// one that imports MPI. Semantics: every call is collective (all ranks call it, in the same
// order) and blocking; all-reduce combines in place; broadcast copies the root's buffer everywhere.
// Two primitives carry every element type on its own MPI type (Collectives.swift builds the
// typed helpers — Codable broadcast, rank 0's decision, equality checks — on top of them).
import CMPI
import Foundation

/// Element types the collectives carry, each on its exact MPI datatype.
public enum ScalarKind: Sendable { case float, double, int32, int64, uint64, byte }

public protocol CommScalar { static var kind: ScalarKind { get } }
extension Float: CommScalar { public static var kind: ScalarKind { .float } }
extension Double: CommScalar { public static var kind: ScalarKind { .double } }
extension Int32: CommScalar { public static var kind: ScalarKind { .int32 } }
extension Int64: CommScalar { public static var kind: ScalarKind { .int64 } }
extension UInt64: CommScalar { public static var kind: ScalarKind { .uint64 } }
extension UInt8: CommScalar { public static var kind: ScalarKind { .byte } }

public enum ReduceOp: Sendable { case sum, max }

public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Host name of this rank (differs across nodes).
    var processorName: String { get }
    /// Combines `count` elements of every rank's `buffer` with `op`; every rank gets the result.
    func allReduce<T: CommScalar>(_ buffer: UnsafeMutablePointer<T>, count: Int, _ op: ReduceOp)
    /// Copies `root`'s `count` elements into every rank's `buffer`.
    func broadcast<T: CommScalar>(_ buffer: UnsafeMutablePointer<T>, count: Int, root: Int)
    func barrier()
    /// Ends the whole job (every rank) with `code`, printing `message` first.
    func abort(code: Int32, message: String) -> Never
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }
    public func allReduceSum<T: CommScalar>(_ buffer: UnsafeMutablePointer<T>, count: Int) { allReduce(buffer, count: count, .sum) }
}

/// One process: collectives are identities.
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var processorName: String { ProcessInfo.processInfo.hostName }
    public func allReduce<T: CommScalar>(_ buffer: UnsafeMutablePointer<T>, count: Int, _ op: ReduceOp) {}
    public func broadcast<T: CommScalar>(_ buffer: UnsafeMutablePointer<T>, count: Int, root: Int) {}
    public func barrier() {}
    public func abort(code: Int32, message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }
}

/// Open MPI. Large buffers are reduced in chunks of at most `chunk` elements (bucketed).
public final class MPICommunicator: Communicator {
    public let rank: Int, size: Int
    public let processorName: String
    public let chunk: Int

    /// Initialises MPI (once per process; MULTIPLE threading so a watchdog may abort).
    public init(chunkElements: Int = 4 << 20) {
        var provided: Int32 = 0
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 { MPI_Init_thread(nil, nil, Int32(MPI_THREAD_MULTIPLE), &provided) }
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(CMPI_COMM_WORLD, &r); MPI_Comm_size(CMPI_COMM_WORLD, &s)
        rank = Int(r); size = Int(s); chunk = max(1, chunkElements)
        var name = [CChar](repeating: 0, count: Int(MPI_MAX_PROCESSOR_NAME) + 1)
        var len: Int32 = 0
        MPI_Get_processor_name(&name, &len)
        processorName = String(cString: name)
    }

    /// Runs `body(offset, n)` over `count` elements in chunks of at most `chunk` (MPI counts are Int32).
    @inline(__always) func chunked(_ count: Int, _ body: (Int, Int32) -> Void) {
        var off = 0
        while off < count { let n = min(chunk, count - off); body(off, Int32(n)); off += n }
    }

    static func datatype(_ kind: ScalarKind) -> MPI_Datatype {
        switch kind {
        case .float: return CMPI_FLOAT
        case .double: return CMPI_DOUBLE
        case .int32: return CMPI_INT32_T
        case .int64: return CMPI_INT64_T
        case .uint64: return CMPI_UINT64_T
        case .byte: return CMPI_BYTE
        }
    }

    public func allReduce<T: CommScalar>(_ buffer: UnsafeMutablePointer<T>, count: Int, _ op: ReduceOp) {
        let type = MPICommunicator.datatype(T.kind), mpiOp = op == .sum ? CMPI_SUM : CMPI_MAX
        chunked(count) { MPI_Allreduce(cmpi_in_place(), buffer + $0, $1, type, mpiOp, CMPI_COMM_WORLD) }
    }

    public func broadcast<T: CommScalar>(_ buffer: UnsafeMutablePointer<T>, count: Int, root: Int) {
        let type = MPICommunicator.datatype(T.kind)
        chunked(count) { MPI_Bcast(buffer + $0, $1, type, Int32(root), CMPI_COMM_WORLD) }
    }

    public func barrier() { MPI_Barrier(CMPI_COMM_WORLD) }

    public func abort(code: Int32, message: String) -> Never {
        FileHandle.standardError.write(Data(("rank \(rank): " + message + "\n").utf8))
        MPI_Abort(CMPI_COMM_WORLD, code)
        exit(code)
    }

    /// Call once at the end of a successful run.
    public func finalize() {
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
    }
}

/// MPI under a launcher, a single process otherwise. Throws `LaunchMismatch` (before any work)
/// when the launcher started a different number of tasks than MPI's world holds.
public func makeCommunicator(launch: LaunchEnvironment = LaunchEnvironment()) throws -> Communicator {
    // Without any wire-up MPI could only form a world of 1; no need to start it to know that.
    guard launch.wiredUp else {
        if let m = launch.mismatch(worldSize: 1) { throw m }
        return SingleProcessCommunicator()
    }
    let mpi = MPICommunicator()
    if let m = launch.mismatch(worldSize: mpi.size) { mpi.finalize(); throw m }
    return mpi
}
