// A frozen Swin backbone for evaluation (docs/algorithm.md §7): from a training checkpoint (teacher by
// default, or the student; architecture and input size come from the checkpoint's metadata), from
// a weights file from elsewhere, `.pth` or safetensors (architecture from the caller; where the
// backbone sits and whether it has official or timm names is found: BackboneKeyMap.locate), or
// freshly initialised exactly as the trainer initialises it (the random-initialisation baseline).
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

    /// `which` network of a training checkpoint, or the backbone of a weights file from elsewhere
    /// (a torch.save `.pth` or a safetensors file: upstream EsViT, official Swin, timm, our export).
    /// `arch` and `inputSize` are needed for other files and ignored for training checkpoints,
    /// which are checked first (format version, configuration against tensors). `prefix`
    /// overrides where in the file the backbone is looked for.
    public init(path: String, which: EvalNetwork = .teacher, arch: SwinConfig? = nil, inputSize requested: Int? = nil,
                prefix: String? = nil) throws {
        let source: TensorSource
        do { source = try WeightsFile.open(path) } catch { throw EvalError.invalid("cannot use \(path): \(error)") }
        var cfg: SwinConfig, size: Int, map: BackboneKeyMap, from: String
        if let st = source as? SafeTensorsFile, CheckpointFile(st).isTrainingCheckpoint {
            let checkpoint = CheckpointFile(st), c: EsViTConfig
            do { try checkpoint.checkFormat(); c = try checkpoint.modelConfig(); try checkpoint.checkConsistency() } catch { throw EvalError.invalid("\(error)") }
            cfg = c.backbone; size = requested ?? c.globalSize
            map = BackboneKeyMap(prefix: prefix ?? which.checkpointPrefix + CheckpointTensors.backbone)
            from = "\(which) of training checkpoint \(path)"
            trainingSeed = checkpoint.position()?.seed
        } else {
            guard let arch else { throw EvalError.invalid("\(path) is not an esvit training checkpoint; give --arch for a weights file") }
            cfg = arch; size = requested ?? arch.constructSize
            do { map = try BackboneKeyMap.locate(in: source.shapes.keys, which: which.rawValue, prefix: prefix) }
            catch { throw EvalError.invalid("\(path): \(error)") }
            from = "weights \(path) (\(map.place))"
            if let note = EvalBackbone.epsNote(source, map: map, eps: cfg.layerNormEps) { notes.append(note) }
        }
        origin = from + (source.unverifiedNote == nil ? "" : " (no tensor checksums: loaded unverified)")
        cfg.dropPathRate = 0
        config = cfg; inputSize = size
        model = SwinModel(config: cfg, table: table, prefix: EvalBackbone.tablePrefix)
        params = table.makeArena()
        do { skipped = try Weights.load(source, table: table, into: params.pointer, tablePrefix: EvalBackbone.tablePrefix, map: map) }
        catch { throw EvalError.invalid("\(error)") }
        if let note = BackboneKeyMap.skippedNote(skipped) { notes.append(note) }
    }

    /// The seed of the run that wrote a training checkpoint (its random initialisation is the
    /// baseline the gain is measured against); nil for other files.
    public private(set) var trainingSeed: UInt64?
    /// Keys under the backbone's prefix that were not loaded (heads, constant buffers).
    public private(set) var skipped: [String] = []
    /// Lines the commands print under `origin`: a LayerNorm eps that may not be the file's, skipped heads.
    public private(set) var notes: [String] = []

    /// A note when the LayerNorm eps may not be the one the weights were trained with: the file
    /// records another (our exports), or it looks like a timm or official Swin release (eps 1e-5)
    /// while the model uses EsViT's 1e-6.
    static func epsNote(_ source: TensorSource, map: BackboneKeyMap, eps: Float) -> String? {
        if let st = source as? SafeTensorsFile, let v = st.metadata["layer_norm_eps"].flatMap(Float.init) {
            return v == eps ? nil : "note: the file records LayerNorm eps \(v), the model uses \(eps); give --layer-norm-eps \(v)"
        }
        guard eps != 1e-5, map.naming == .timm || map.prefix == "model." else { return nil }
        return "note: timm and official Swin releases use LayerNorm eps 1e-5, the model uses \(eps) (EsViT's); give --layer-norm-eps 1e-5 for such weights"
    }

    public var featureDim: Int { config.numFeatures }
}
