// The model an EsViT run trains, as a configuration: the backbone and head geometry, the crops
// it is built for and the method's constants (EsViTConfig, stored in every checkpoint's `config`
// record), and the student/teacher modules built from it in one parameter table under upstream's
// module names (EsViTModules; the trainer's model and every checkpoint check build it this way).

/// The module names inside the parameter table (upstream's: backbone., head., head_dense.).
public enum ModulePrefix {
    public static let backbone = "backbone.", head = "head.", denseHead = "head_dense."
}

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
    public var studentTemperature: Float = EsViTConfig.standardStudentTemperature
    public var centerMomentum: Float = EsViTConfig.standardCenterMomentum
    /// DINO's and EsViT's student temperature τ_s and center momentum: the method's constants.
    public static let standardStudentTemperature: Float = 0.1
    public static let standardCenterMomentum: Float = 0.9

    public init(backbone: SwinConfig, head: HeadConfig, useDense: Bool, batch: Int, localCrops: Int, globalSize: Int, localSize: Int) {
        self.backbone = backbone; self.head = head; self.useDense = useDense; self.batch = batch
        self.localCrops = localCrops; self.globalSize = globalSize; self.localSize = localSize
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
        backbone = SwinModel(config: config.backbone, table: table, prefix: ModulePrefix.backbone)
        let C = backbone.config.numFeatures
        head = DINOHead(inDim: C, config: config.head, table: table, prefix: ModulePrefix.head)
        denseHead = config.useDense ? DINOHead(inDim: C, config: config.head, table: table, prefix: ModulePrefix.denseHead) : nil
    }
}
