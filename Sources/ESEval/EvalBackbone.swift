// A frozen Swin backbone for evaluation (docs/algorithm.md §7): from a training checkpoint (teacher by
// default, or the student; architecture and input size come from the checkpoint's metadata), from
// a backbone-only safetensors file with the official key names (architecture from the caller;
// the key prefix is found: none, "backbone.", "teacher.backbone.", "module." …), or freshly
// initialised exactly as the trainer initialises it (the random-initialisation baseline).
import ESCheckpoint
import ESKernels
import ESModel
import Foundation

public enum EvalError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String { if case .invalid(let m) = self { return m }; return "" }
}

public final class EvalBackbone {
    public let config: SwinConfig
    public let table = ParameterTable()
    public let model: SwinModel
    public let params: FloatBuffer
    /// Square input size the features are computed at (the pretraining global crop size).
    public let inputSize: Int
    /// What was loaded, for the report.
    public let origin: String

    /// Tables use the trainer's "backbone." prefix so a random initialisation equals the trainer's.
    static let tablePrefix = CheckpointTensors.backbone

    public init(randomWith config: SwinConfig, seed: UInt64, inputSize: Int) {
        self.config = config; self.inputSize = inputSize
        model = SwinModel(config: config, table: table, prefix: EvalBackbone.tablePrefix)
        params = table.makeArena()
        model.initialize(params.pointer, table: table, seed: seed)
        origin = "random initialisation (seed \(seed))"
    }

    /// A copy of the backbone entries ("backbone.*") of a live parameter arena, e.g. the
    /// trainer's teacher, for evaluation during training.
    public init(config: SwinConfig, inputSize: Int, copyFrom source: ParameterTable, params src: UnsafePointer<Float>, origin: String) {
        var cfg = config
        cfg.dropPathRate = 0
        self.config = cfg; self.inputSize = inputSize; self.origin = origin
        model = SwinModel(config: cfg, table: table, prefix: EvalBackbone.tablePrefix)
        params = table.makeArena()
        refresh(from: source, params: src)
    }

    /// Copies the current values of the same keys from `source`.
    public func refresh(from source: ParameterTable, params src: UnsafePointer<Float>) {
        for e in table.entries {
            guard let s = source.entry(e.key), s.count == e.count else { preconditionFailure("no \(e.key) in the source table") }
            (params.pointer + e.offset).update(from: src + s.offset, count: e.count)
        }
    }

    /// `which` network of a training checkpoint. `arch` and `inputSize` are needed for
    /// backbone-only files and ignored for training checkpoints, which are checked first
    /// (format version, configuration against tensors).
    public init(path: String, which: EvalNetwork = .teacher, arch: SwinConfig? = nil, inputSize requested: Int? = nil) throws {
        let checkpoint: CheckpointFile
        do { checkpoint = try CheckpointFile(path: path) } catch { throw EvalError.invalid("cannot use \(path): \(error)") }
        let file = checkpoint.safetensors
        var cfg: SwinConfig, size: Int, filePrefix: String, from: String
        if checkpoint.isTrainingCheckpoint {
            let c: EsViTConfig
            do { try checkpoint.checkFormat(); c = try checkpoint.modelConfig(); try checkpoint.checkConsistency() } catch { throw EvalError.invalid("\(error)") }
            cfg = c.backbone; size = requested ?? c.globalSize; filePrefix = which.checkpointPrefix + CheckpointTensors.backbone
            from = "\(which) of training checkpoint \(path)"
        } else {
            guard let arch else { throw EvalError.invalid("\(path) is not an esvit training checkpoint; give --arch for a backbone-only file") }
            cfg = arch; size = requested ?? arch.constructSize
            let candidates = ["", "backbone.", "teacher.backbone.", "teacher.", "module.", "student.backbone.", "module.backbone."]
            guard let p = candidates.first(where: { file.tensors[$0 + "patch_embed.proj.weight"] != nil }) else {
                throw EvalError.invalid("\(path) holds no Swin backbone (no patch_embed.proj.weight under any known prefix)")
            }
            filePrefix = p
            from = "backbone file \(path)" + (p.isEmpty ? "" : " (keys under '\(p)')")
        }
        origin = from + (file.checksummed ? "" : " (no tensor checksums: loaded unverified)")
        cfg.dropPathRate = 0
        config = cfg; inputSize = size
        model = SwinModel(config: cfg, table: table, prefix: EvalBackbone.tablePrefix)
        params = table.makeArena()
        do { try Weights.load(file, table: table, into: params.pointer, tablePrefix: EvalBackbone.tablePrefix, filePrefix: filePrefix) }
        catch { throw EvalError.invalid("\(error)") }
    }

    public var featureDim: Int { config.numFeatures }
}
