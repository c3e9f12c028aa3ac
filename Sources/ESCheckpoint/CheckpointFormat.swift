// The names of esvit's training-checkpoint format (docs/checkpoint-format.md): the format string
// and version every checkpoint carries, the metadata keys, the tensor names, and the module
// prefixes of the parameter table the tensors are stored under. Every other target asks here;
// none spells a key itself.
import ESModel

/// The format string and version of a training checkpoint.
public enum CheckpointFormat {
    /// metadata `format` of every training checkpoint.
    public static let name = "esvit-checkpoint"
    /// metadata `version`: the only one this build writes and reads.
    public static let version = "1"
}

/// Metadata keys (every value a string).
public enum CheckpointKey {
    public static let format = "format", version = "version"
    /// The model configuration (`EsViTConfig`) as JSON.
    public static let config = "config"
    /// The position (`CheckpointInfo`) as JSON.
    public static let info = "info"
    /// AdamW step count of every parameter tensor, a JSON array in table order.
    public static let optimizerSteps = "optimizer_steps"
    /// The whole resolved run configuration of the writing run, as JSON (written by the trainer).
    public static let runConfiguration = "pretrain_config"
    /// The writing run's layout, as JSON (written by the trainer).
    public static let layout = "layout"
    /// Per-tensor CRC-32s (owned by the safetensors layer, which writes and verifies them).
    public static let tensorChecksums = SafeTensorsFile.checksumKey
}

/// Tensor names: four copies of the parameter table under their prefixes, and the two centers.
public enum CheckpointTensors {
    public static let student = "student.", teacher = "teacher."
    public static let firstMoments = "optimizer.exp_avg.", secondMoments = "optimizer.exp_avg_sq."
    /// The prefixes of the four copies of the parameter table, in the order they are written.
    public static let parameterCopies = [student, teacher, firstMoments, secondMoments]
    /// The view head's and the region head's centers, [1, K] each.
    public static let viewCenter = "loss.center", regionCenter = "loss.center_grid"
    public static let centers = [viewCenter, regionCenter]

    /// Module prefixes inside the parameter table (ESModel's ModulePrefix).
    public static let backbone = ModulePrefix.backbone, head = ModulePrefix.head, denseHead = ModulePrefix.denseHead
}

public enum CheckpointError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String { if case .invalid(let m) = self { return m }; return "" }
}
