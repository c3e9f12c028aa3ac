// What a training checkpoint records besides its tensors: the model configuration (EsViTConfig,
// metadata `config`), the position in the run (CheckpointInfo, metadata `info`), and the modules
// whose parameters the tensors hold, built from the configuration under the checkpoint's key
// names (the trainer's model and every checkpoint check use the same construction).
import ESModel

/// The model configuration of an EsViT student/teacher pair, as a checkpoint stores it.
public struct EsViTConfig: Codable, Equatable, Sendable {
    public var backbone: SwinConfig
    public var head: HeadConfig
    /// Region (dense) loss on: EsViT; off: DINO's view loss only (the paper's ablation).
    public var useDense: Bool
    public var batch: Int
    public var localCrops: Int
    public var globalSize: Int
    public var localSize: Int
    public var studentTemperature: Float = 0.1
    public var centerMomentum: Float = 0.9

    public init(backbone: SwinConfig, head: HeadConfig, useDense: Bool, batch: Int, localCrops: Int, globalSize: Int, localSize: Int) {
        self.backbone = backbone; self.head = head; self.useDense = useDense; self.batch = batch
        self.localCrops = localCrops; self.globalSize = globalSize; self.localSize = localSize
    }
}

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

/// The pair's modules in one parameter table under the checkpoint's names: the backbone under
/// "backbone.", the view head under "head.", the region head (when the region loss is on) under
/// "head_dense.".
public struct EsViTModules {
    public let backbone: SwinModel
    public let head: DINOHead
    public let denseHead: DINOHead?

    public init(config: EsViTConfig, table: ParameterTable) {
        backbone = SwinModel(config: config.backbone, table: table, prefix: CheckpointTensors.backbone)
        let C = backbone.config.numFeatures
        head = DINOHead(inDim: C, config: config.head, table: table, prefix: CheckpointTensors.head)
        denseHead = config.useDense ? DINOHead(inDim: C, config: config.head, table: table, prefix: CheckpointTensors.denseHead) : nil
    }
}
