// The epoch sampler (docs/algorithm.md §6.3, DistributedSampler semantics with our own keyed permutation):
// each epoch takes a permutation of 0..<N that depends only on (seed, epoch), identical on every
// rank; it is padded by repeating its head up to a multiple of the world size W; rank r takes
// padded positions r, r + W, r + 2W, …; batches drop the remainder. Iterations per epoch are
// ⌊⌈N/W⌉/B⌋. A run can start mid-epoch from a global sample position (what checkpoints store),
// so resuming — even with a different number of ranks — continues the same sample order.
import ESKernels

public struct EpochSampler: Sendable {
    public let count: Int, worldSize: Int, rank: Int, batchPerRank: Int, seed: UInt64

    public init(count: Int, worldSize: Int, rank: Int, batchPerRank: Int, seed: UInt64) {
        precondition(count > 0 && worldSize > 0 && rank >= 0 && rank < worldSize && batchPerRank > 0, "invalid sampler setup")
        self.count = count; self.worldSize = worldSize; self.rank = rank; self.batchPerRank = batchPerRank; self.seed = seed
    }

    public var samplesPerRank: Int { (count + worldSize - 1) / worldSize }
    public var iterationsPerEpoch: Int { samplesPerRank / batchPerRank }
    /// Global samples consumed by one iteration of all ranks.
    public var globalBatch: Int { batchPerRank * worldSize }

    /// The epoch's permutation of 0..<N (Fisher–Yates keyed by seed and epoch).
    public func permutation(epoch: Int) -> [Int] {
        var p = Array(0..<count)
        var rng = KeyedRandom(seed, 0x5A4D_504C, UInt64(epoch))
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            p.swapAt(i, j)
        }
        return p
    }

    /// Padded global order of the epoch: the permutation followed by its head, length W·⌈N/W⌉.
    public func paddedOrder(epoch: Int) -> [Int] {
        let p = permutation(epoch: epoch), total = samplesPerRank * worldSize
        return total == count ? p : p + p.prefix(total - count)
    }

    /// Dataset indices of this rank's batch `iteration` (0-based within the epoch).
    public func batch(epoch: Int, iteration: Int, order: [Int]? = nil) -> [Int] {
        let o = order ?? paddedOrder(epoch: epoch)
        let first = iteration * batchPerRank
        return (first..<(first + batchPerRank)).map { o[$0 * worldSize + rank] }
    }

    /// Global position (samples consumed by all ranks) at the start of (epoch, iteration).
    public func globalPosition(epoch: Int, iteration: Int) -> Int { (epoch * iterationsPerEpoch + iteration) * globalBatch }

    /// (epoch, iteration) at which a run continues from a stored global position. Positions that
    /// do not fall on this layout's batch boundary round down to the enclosing iteration.
    public func resumePoint(globalPosition pos: Int) -> (epoch: Int, iteration: Int) {
        let perEpoch = iterationsPerEpoch * globalBatch
        guard perEpoch > 0 else { return (0, 0) }
        return (pos / perEpoch, (pos % perEpoch) / globalBatch)
    }
}
