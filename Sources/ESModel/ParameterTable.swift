// One parameter table over flat arenas. Every entry records its PyTorch state-dict key, shape,
// offset into the arena (aligned to 16 floats), weight-decay group and trainability. Student
// parameters, gradients, AdamW moments and the teacher all share one table, so all-reduce,
// EMA, clipping and checkpointing are loops over entries of the same layout.
import ESKernels

public struct ParameterEntry: Sendable {
    public let key: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    /// Group 0 (weight decay) for ≥2-D tensors not ending in ".bias", as upstream (docs/algorithm.md §5.4).
    public var decay: Bool
    public var trainable: Bool
}

public final class ParameterTable: @unchecked Sendable {
    public private(set) var entries: [ParameterEntry] = []
    public private(set) var totalCount = 0
    private var byKey: [String: Int] = [:]

    public init() {}

    /// Appends an entry and returns its offset.
    @discardableResult
    public func add(_ key: String, _ shape: [Int], trainable: Bool = true) -> Int {
        precondition(byKey[key] == nil, "duplicate parameter key \(key)")
        let offset = (totalCount + 15) / 16 * 16
        let decay = shape.count >= 2 && !key.hasSuffix(".bias")
        entries.append(ParameterEntry(key: key, shape: shape, offset: offset, decay: decay, trainable: trainable))
        byKey[key] = entries.count - 1
        totalCount = offset + shape.reduce(1, *)
        return offset
    }

    public func entry(_ key: String) -> ParameterEntry? { byKey[key].map { entries[$0] } }

    /// Number of scalar parameters (excluding alignment padding).
    public var parameterCount: Int { entries.reduce(0) { $0 + $1.count } }

    /// A zeroed arena laid out by this table.
    public func makeArena() -> FloatBuffer { FloatBuffer(count: totalCount) }
}
