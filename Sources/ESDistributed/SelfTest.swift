// `esvit doctor --check-mpi`: every collective the trainer uses, checked across every rank with
// known answers — a float all-reduce larger than one chunk, a double all-reduce, a broadcast,
// and the typed collectives (a Codable value, rank 0's decision, the equality check, the
// maximum, every rank's value). Every rank learns how many ranks saw a wrong result.
import Foundation

public struct CollectiveSelfTest {
    /// Ranks on which some collective gave a wrong answer (0: all correct).
    public let failedRanks: Int
    /// Floats in the chunked all-reduce.
    public let elements: Int

    public init(_ comm: Communicator, elements n: Int = 5_000_003) {
        elements = n
        let r = comm.rank, size = comm.size
        // Every rank contributes rank+1.
        var buf = [Float](repeating: Float(r + 1), count: n)
        buf.withUnsafeMutableBufferPointer { comm.allReduceSum($0.baseAddress!, count: n) }
        let want = Float(size * (size + 1) / 2)
        var ok = buf.allSatisfy { $0 == want }
        var d = Double(r)
        comm.allReduceSum(&d, count: 1)
        ok = ok && d == Double(size * (size - 1) / 2)
        var b = (0..<1000).map { comm.isRoot ? Float($0) : -1 }
        b.withUnsafeMutableBufferPointer { comm.broadcast($0.baseAddress!, count: 1000, root: 0) }
        ok = ok && b.enumerated().allSatisfy { $0.element == Float($0.offset) }
        ok = ok && CollectiveSelfTest.typedCollectivesHold(comm)
        var failed: Int32 = ok ? 0 : 1
        comm.allReduceSum(&failed, count: 1)
        failedRanks = Int(failed)
    }

    static func typedCollectivesHold(_ comm: Communicator) -> Bool {
        let r = comm.rank, size = comm.size
        guard let s = try? comm.broadcast(comm.isRoot ? ["from rank 0": [1.5, -2]] : [:]), s == ["from rank 0": [1.5, -2]] else { return false }
        guard comm.agree(comm.isRoot), comm.allEqual(0xDEAD_BEEF_0123_4567) else { return false }
        // Every rank but 0 differs from rank 0 here.
        guard comm.ranksDiffering(from: UInt64(r)) == size - 1 else { return false }
        guard comm.allReduceMax(Int32(r)) == Int32(size - 1) else { return false }
        guard let all = try? comm.allGather(r), all == Array(0..<size) else { return false }
        return true
    }
}
