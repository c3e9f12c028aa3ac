// What a training checkpoint records besides its tensors and the model configuration
// (ESModel's EsViTConfig, metadata `config`): the position in the run (CheckpointInfo, metadata
// `info`).
import ESModel

/// Where a run stood when it wrote the checkpoint.
public struct CheckpointInfo: Codable, Equatable, Sendable {
    public var epoch: Int
    public var iteration: Int
    public var globalSamplePosition: Int
    public var seed: UInt64
    public var worldSize: Int
    /// Samples (over all ranks) already consumed in `epoch`: with the epoch, what a resume with
    /// any number of ranks continues from.
    public var samplesIntoEpoch: Int
    public init(epoch: Int, iteration: Int, globalSamplePosition: Int, seed: UInt64, worldSize: Int, samplesIntoEpoch: Int = 0) {
        self.epoch = epoch; self.iteration = iteration; self.globalSamplePosition = globalSamplePosition
        self.seed = seed; self.worldSize = worldSize; self.samplesIntoEpoch = samplesIntoEpoch
    }
}
