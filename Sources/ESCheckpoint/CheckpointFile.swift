// Reading a training checkpoint (docs/checkpoint-format.md §3). The file is opened with every
// safetensors check (header, offsets, per-tensor CRC-32s: at once, or, to load a training state,
// as each tensor is copied, so the data is read once); its records are then read from the
// metadata without copying any tensor, and the checkpoint checks decide whether it may be used:
// format and version, the configuration against the tensors and against the run's own record,
// the records decoding, and, to resume, the configuration against the new run's. Copying the
// tensors is the caller's (ESObjective's EsViT for a training state, ESEval for a backbone).
import ESModel
import Foundation

public struct CheckpointFile: Sendable {
    /// The file, validated as safetensors (tensors are read from it by name).
    public let safetensors: SafeTensorsFile
    public var path: String { safetensors.path }
    public var metadata: [String: String] { safetensors.metadata }

    /// The model configuration (metadata `config`), decoded once; nil when absent or damaged.
    private let storedConfig: EsViTConfig?

    /// Opens `path` with every safetensors check; throws the safetensors error.
    public init(path: String) throws { self.init(try SafeTensorsFile(path: path)) }

    /// A file already opened.
    public init(_ file: SafeTensorsFile) {
        safetensors = file
        storedConfig = file.metadata[CheckpointKey.config].flatMap { try? JSONDecoder().decode(EsViTConfig.self, from: Data($0.utf8)) }
    }

    /// Opens `path`; a file without tensor checksums is noted on stderr (one line).
    public static func open(_ path: String, checksums timing: ChecksumTiming = .atOpen) throws -> CheckpointFile {
        let file = CheckpointFile(try SafeTensorsFile(path: path, checksums: timing))
        if let note = file.safetensors.unverifiedNote { FileHandle.standardError.write(Data((note + "\n").utf8)) }
        return file
    }

    /// Opens a training checkpoint to load it whole: as `open`, but each tensor's checksum is
    /// verified as the loader copies it (the data is read once); a refused file as "cannot use checkpoint: …".
    public static func openForLoading(_ path: String) throws -> CheckpointFile {
        do { return try open(path, checksums: .onCopy) } catch { throw CheckpointError.invalid("cannot use checkpoint: \(error)") }
    }

    /// The file says it is an esvit training checkpoint (metadata `format`).
    public var isTrainingCheckpoint: Bool { metadata[CheckpointKey.format] == CheckpointFormat.name }

    /// Refuses a file that is not a training checkpoint of the version this build reads.
    public func checkFormat() throws {
        guard isTrainingCheckpoint else {
            throw CheckpointError.invalid("\(path) is not an esvit training checkpoint (format '\(metadata[CheckpointKey.format] ?? "none")')")
        }
        let version = metadata[CheckpointKey.version]
        guard version == CheckpointFormat.version else {
            throw CheckpointError.invalid("\(path): checkpoint version \(version ?? "?") is not supported (this build reads \(CheckpointFormat.version))")
        }
    }

    /// Every check of a training checkpoint before it is loaded: format, version, consistency.
    public func validate() throws {
        try checkFormat()
        try checkConsistency()
    }

    /// The model configuration (metadata `config`).
    public func modelConfig() throws -> EsViTConfig {
        guard let c = storedConfig else {
            throw CheckpointError.invalid("\(path): the checkpoint's configuration metadata is missing or damaged")
        }
        return c
    }

    /// What loading a training state needs from the metadata: the model configuration, the
    /// position and the AdamW step counts (one per parameter tensor: `parameterTensors`).
    public func trainingRecords(parameterTensors: Int) throws -> (config: EsViTConfig, info: CheckpointInfo, optimizerSteps: [Int]) {
        guard let config = storedConfig, let info = decoded(CheckpointInfo.self, CheckpointKey.info),
              let steps = decoded([Int].self, CheckpointKey.optimizerSteps), steps.count == parameterTensors else {
            throw CheckpointError.invalid("\(path): checkpoint metadata (config, info, optimizer steps) is missing or damaged")
        }
        return (config, info, steps)
    }

    /// Refuses to load a checkpoint of configuration `stored` into a model of `current`: they
    /// must be equal but for the per-rank batch (a workspace size, not part of the model).
    /// Every difference is named.
    public func requireCompatible(_ stored: EsViTConfig, with current: EsViTConfig) throws {
        var comparable = stored
        comparable.batch = current.batch
        guard comparable != current else { return }
        let a = ConfigFields.flatten(stored), b = ConfigFields.flatten(current)
        let differences = Set(a.keys).union(b.keys).sorted().compactMap { k in
            a[k] == b[k] ? nil : "\(k): checkpoint \(a[k] ?? "—"), now \(b[k] ?? "—")"
        }
        throw CheckpointError.invalid("\(path) was written for a different configuration: " + differences.joined(separator: "; "))
    }

    /// Where the writing run stood (metadata `info`: iteration, seed, world size); nil when absent or damaged.
    public func position() -> CheckpointInfo? { decoded(CheckpointInfo.self, CheckpointKey.info) }

    /// The writing run's whole configuration (metadata `pretrain_config`) as `type`; nil when
    /// the file has none.
    public func runConfiguration<T: Decodable>(_ type: T.Type) throws -> T? {
        try record(type, CheckpointKey.runConfiguration)
    }

    /// The writing run's layout (metadata `layout`) as `type`; nil when the file has none.
    public func runLayout<T: Decodable>(_ type: T.Type) throws -> T? {
        try record(type, CheckpointKey.layout)
    }

    /// The JSON record under `key` as `type`: nil when absent, an error naming the key when it
    /// does not decode.
    func record<T: Decodable>(_ type: T.Type, _ key: String) throws -> T? {
        guard let text = metadata[key] else { return nil }
        do { return try JSONDecoder().decode(type, from: Data(text.utf8)) } catch {
            throw CheckpointError.invalid("\(path): the \(key) metadata cannot be read (\(error))")
        }
    }

    func decoded<T: Decodable>(_ type: T.Type, _ key: String) -> T? {
        metadata[key].flatMap { try? JSONDecoder().decode(type, from: Data($0.utf8)) }
    }
}
