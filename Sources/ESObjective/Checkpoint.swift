// Training checkpoints: one safetensors file (readable with `safetensors` in Python) holding
//   student.<key>, teacher.<key>       parameters under upstream names (student.backbone.…, teacher.head.…)
//   optimizer.exp_avg.<key>, optimizer.exp_avg_sq.<key>   AdamW moments
//   loss.center, loss.center_grid      both centers
// and metadata: format, version, config (EsViTConfig JSON), epoch, iteration (global), global
// sample position, samples consumed in the epoch, seed, world size, AdamW step counts (JSON,
// table order). The per-rank batch in the config is a workspace size, not part of the model, so
// it may differ between the writer and the reader (resume with another layout). Written atomically
// (temp file, fsync, rename, fsync of the folder); loading runs every safetensors check plus
// format/version/config compatibility, with a message that says what differs. Every tensor's
// CRC-32 is stored in the metadata and verified on load (SafeTensorsFile).
import ESKernels
import ESModel
import Foundation

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

public enum CheckpointError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String { if case .invalid(let m) = self { return m }; return "" }
}

extension EsViT {
    static let checkpointFormat = "esvit-checkpoint", checkpointVersion = "1"

    /// Writes the whole training state atomically to `path`.
    public func saveCheckpoint(to path: String, info: CheckpointInfo, extraMetadata: [String: String] = [:]) throws {
        try saveCheckpoint(to: [path], info: info, extraMetadata: extraMetadata)
    }

    /// Writes the whole training state atomically to each of `paths` (serialised once).
    public func saveCheckpoint(to paths: [String], info: CheckpointInfo, extraMetadata: [String: String] = [:]) throws {
        var w = SafeTensorsWriter()
        Weights.add(table, student.pointer, to: &w, filePrefix: "student.")
        Weights.add(table, teacher.pointer, to: &w, filePrefix: "teacher.")
        Weights.add(table, optimizer.m.pointer, to: &w, filePrefix: "optimizer.exp_avg.")
        Weights.add(table, optimizer.v.pointer, to: &w, filePrefix: "optimizer.exp_avg_sq.")
        w.add("loss.center", shape: [1, config.head.outDim], floats: centers.view.pointer)
        w.add("loss.center_grid", shape: [1, config.head.outDim], floats: centers.region.pointer)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var meta = extraMetadata
        meta["format"] = EsViT.checkpointFormat
        meta["version"] = EsViT.checkpointVersion
        meta["config"] = String(decoding: try enc.encode(config), as: UTF8.self)
        meta["info"] = String(decoding: try enc.encode(info), as: UTF8.self)
        meta["optimizer_steps"] = String(decoding: try enc.encode(optimizer.steps), as: UTF8.self)
        w.metadata = meta
        try w.write(to: paths)
    }

    /// Loads a checkpoint written by `saveCheckpoint` into this model (same configuration).
    /// Nothing is modified unless every check passes.
    @discardableResult
    public func loadCheckpoint(from path: String) throws -> CheckpointInfo {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch { throw CheckpointError.invalid("cannot use checkpoint: \(error)") }
        if let note = file.unverifiedNote { FileHandle.standardError.write(Data((note + "\n").utf8)) }
        guard file.metadata["format"] == EsViT.checkpointFormat else {
            throw CheckpointError.invalid("\(path) is not an esvit training checkpoint (format '\(file.metadata["format"] ?? "none")')")
        }
        guard file.metadata["version"] == EsViT.checkpointVersion else {
            throw CheckpointError.invalid("\(path): checkpoint version \(file.metadata["version"] ?? "?") is not supported (this build reads \(EsViT.checkpointVersion))")
        }
        try EsViT.checkConsistency(file)
        let dec = JSONDecoder()
        guard let cText = file.metadata["config"], let stored = try? dec.decode(EsViTConfig.self, from: Data(cText.utf8)),
              let iText = file.metadata["info"], let info = try? dec.decode(CheckpointInfo.self, from: Data(iText.utf8)),
              let sText = file.metadata["optimizer_steps"], let steps = try? dec.decode([Int].self, from: Data(sText.utf8)),
              steps.count == table.entries.count else {
            throw CheckpointError.invalid("\(path): checkpoint metadata (config, info, optimizer steps) is missing or damaged")
        }
        var comparable = stored
        comparable.batch = config.batch
        if comparable != config {
            throw CheckpointError.invalid("\(path) was written for a different configuration: " + EsViT.configDifferences(stored, config).joined(separator: "; "))
        }
        // Stage everything, then commit.
        let s = table.makeArena(), t = table.makeArena(), m = table.makeArena(), v = table.makeArena()
        let cv = FloatBuffer(count: config.head.outDim), cg = FloatBuffer(count: config.head.outDim)
        do {
            try Weights.load(file, table: table, into: s.pointer, filePrefix: "student.")
            try Weights.load(file, table: table, into: t.pointer, filePrefix: "teacher.")
            try Weights.load(file, table: table, into: m.pointer, filePrefix: "optimizer.exp_avg.")
            try Weights.load(file, table: table, into: v.pointer, filePrefix: "optimizer.exp_avg_sq.")
            try file.copyFloats("loss.center", into: cv.pointer, count: cv.count)
            try file.copyFloats("loss.center_grid", into: cg.pointer, count: cg.count)
        } catch { throw CheckpointError.invalid("cannot use checkpoint: \(error)") }
        for (src, dst) in [(s, student), (t, teacher), (m, optimizer.m), (v, optimizer.v), (cv, centers.view), (cg, centers.region)] {
            dst.pointer.update(from: src.pointer, count: src.count)
        }
        optimizer.steps = steps
        return info
    }

    /// Refuses a training checkpoint whose configuration disagrees with its tensors or with
    /// itself, naming the disagreement: every student, teacher and optimizer tensor must have the
    /// shape `config` gives it, the centers K values, and the run's configuration
    /// (`pretrain_config`, if stored) the same backbone, heads, region loss and crop sizes.
    public static func checkConsistency(_ file: SafeTensorsFile) throws {
        guard let text = file.metadata["config"], let c = try? JSONDecoder().decode(EsViTConfig.self, from: Data(text.utf8)) else {
            throw CheckpointError.invalid("\(file.path): the checkpoint's configuration metadata is missing or damaged")
        }
        let table = ParameterTable()
        let backbone = SwinModel(config: c.backbone, table: table, prefix: "backbone.")
        _ = DINOHead(inDim: backbone.config.numFeatures, config: c.head, table: table, prefix: "head.")
        if c.useDense { _ = DINOHead(inDim: backbone.config.numFeatures, config: c.head, table: table, prefix: "head_dense.") }
        for prefix in ["student.", "teacher.", "optimizer.exp_avg.", "optimizer.exp_avg_sq."] {
            do { try Weights.check(file, table: table, filePrefix: prefix) } catch {
                throw CheckpointError.invalid("\(file.path): its configuration metadata disagrees with its tensors: \(error)")
            }
        }
        for name in ["loss.center", "loss.center_grid"] {
            if let t = file.tensors[name], t.shape != [1, c.head.outDim] {
                throw CheckpointError.invalid("\(file.path): \(name) has shape \(t.shape) but the configuration's head has K = \(c.head.outDim)")
            }
        }
        guard let runText = file.metadata["pretrain_config"] else { return }
        guard let run = try? JSONSerialization.jsonObject(with: Data(runText.utf8)) else {
            throw CheckpointError.invalid("\(file.path): the pretrain_config metadata is damaged")
        }
        let model = ConfigFields.flatten(c), stored = ConfigFields.flatten(json: run)
        var pairs = [("globalSize", "crops.globalSize"), ("localSize", "crops.localSize"), ("localCrops", "crops.localCrops"),
                     ("useDense", "useDensePrediction")]
        pairs += model.keys.filter { $0.hasPrefix("backbone.") || $0.hasPrefix("head.") }.sorted().map { ($0, $0) }
        let differ = pairs.filter { model[$0.0] != stored[$0.1] }.map { "config \($0.0) = \(model[$0.0] ?? "—"), pretrain_config \($0.1) = \(stored[$0.1] ?? "—")" }
        if !differ.isEmpty {
            throw CheckpointError.invalid("\(file.path): its two configuration records disagree (the metadata was altered): " + differ.joined(separator: "; "))
        }
    }

    /// Human-readable differences between two configurations.
    static func configDifferences(_ a: EsViTConfig, _ b: EsViTConfig) -> [String] {
        let fa = ConfigFields.flatten(a), fb = ConfigFields.flatten(b)
        return Set(fa.keys).union(fb.keys).sorted().compactMap { k in
            fa[k] == fb[k] ? nil : "\(k): checkpoint \(fa[k] ?? "—"), now \(fb[k] ?? "—")"
        }
    }
}

/// A configuration as dotted field paths → printed values ("head.outDim" → "64"), for messages
/// that name what differs between two configurations.
public enum ConfigFields {
    public static func flatten<T: Encodable>(_ x: T) -> [String: String] {
        guard let d = try? JSONEncoder().encode(x), let o = try? JSONSerialization.jsonObject(with: d) else { return [:] }
        return flatten(json: o)
    }

    /// The same for a parsed JSON value.
    public static func flatten(json o: Any) -> [String: String] {
        var out: [String: String] = [:]
        func walk(_ prefix: String, _ v: Any) {
            if let dict = v as? [String: Any] { for (k, x) in dict { walk(prefix.isEmpty ? k : prefix + "." + k, x) } }
            else { out[prefix] = "\(v)" }
        }
        walk("", o)
        return out
    }
}
