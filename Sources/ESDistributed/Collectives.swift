// Typed collectives built on the two primitives of Communicator: a Codable value from one rank
// to all, rank 0's decision, an equality check of a 64-bit value, the maximum of an Int32, and
// every rank's value in rank order. Each travels on its own MPI type (lengths as Int64, hashes
// as UInt64, decisions as a byte); nothing is smuggled through Float.
import Foundation

/// A value another rank sent could not be decoded (a version skew between ranks' binaries).
public struct CollectiveDecodingError: Error, CustomStringConvertible {
    public let type: String, bytes: Int
    public var description: String { "rank-0 broadcast of \(type) (\(bytes) bytes) could not be decoded: are all ranks running the same esvit binary?" }
}

/// A top-level JSON object around any Codable value (strings, numbers and optionals included).
struct CodableBox<T: Codable>: Codable { let value: T }

extension Communicator {
    /// `root`'s `value` on every rank (the other ranks' `value` is ignored). JSON bytes behind an Int64 length.
    public func broadcast<T: Codable>(_ value: T, root: Int = 0) throws -> T {
        guard size > 1 else { return value }
        let mine = rank == root
        var bytes = mine ? [UInt8](try JSONEncoder().encode(CodableBox(value: value))) : []
        var length = Int64(bytes.count)
        broadcast(&length, count: 1, root: root)
        if !mine { bytes = [UInt8](repeating: 0, count: Int(length)) }
        bytes.withUnsafeMutableBufferPointer { broadcast($0.baseAddress!, count: $0.count, root: root) }
        if mine { return value }
        do { return try JSONDecoder().decode(CodableBox<T>.self, from: Data(bytes)).value }
        catch { throw CollectiveDecodingError(type: "\(T.self)", bytes: bytes.count) }
    }

    /// Rank 0's `answer` on every rank (e.g. rank 0's clock decides whether the deadline is near).
    public func agree(_ answer: Bool) -> Bool {
        guard size > 1 else { return answer }
        var b: UInt8 = answer ? 1 : 0
        broadcast(&b, count: 1, root: 0)
        return b != 0
    }

    /// How many ranks hold a `value` different from rank 0's (0: all equal).
    public func ranksDiffering(from value: UInt64) -> Int {
        guard size > 1 else { return 0 }
        var root = value
        broadcast(&root, count: 1, root: 0)
        var differ: Int32 = root == value ? 0 : 1
        allReduce(&differ, count: 1, .sum)
        return Int(differ)
    }

    /// Whether every rank holds the same `value`.
    public func allEqual(_ value: UInt64) -> Bool { ranksDiffering(from: value) == 0 }

    /// The largest of every rank's `value` (e.g. "did any rank receive a stop signal").
    public func allReduceMax(_ value: Int32) -> Int32 {
        var v = value
        allReduce(&v, count: 1, .max)
        return v
    }

    /// Every rank's `value`, in rank order.
    public func allGather<T: Codable>(_ value: T) throws -> [T] {
        try (0..<size).map { try broadcast(value, root: $0) }
    }
}
