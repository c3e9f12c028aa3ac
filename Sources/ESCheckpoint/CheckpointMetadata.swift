// Writing a training checkpoint's metadata: the pair's own records (format, version, config,
// info, optimizer_steps) and the run's records the trainer adds (pretrain_config, layout), each
// value JSON with sorted keys.
import ESModel
import Foundation

public enum CheckpointMetadata {
    /// The metadata of a training checkpoint: `extra` (e.g. the run's records) with the pair's
    /// own records added.
    public static func training(config: EsViTConfig, info: CheckpointInfo, optimizerSteps: [Int],
                                adding extra: [String: String] = [:]) throws -> [String: String] {
        var meta = extra
        meta[CheckpointKey.format] = CheckpointFormat.name
        meta[CheckpointKey.version] = CheckpointFormat.version
        meta[CheckpointKey.config] = try json(config)
        meta[CheckpointKey.info] = try json(info)
        meta[CheckpointKey.optimizerSteps] = try json(optimizerSteps)
        return meta
    }

    /// The run's records: its whole resolved configuration (`pretrain_config`) and its layout
    /// (`layout`). A value that cannot be encoded is left out.
    public static func run<Configuration: Encodable, Layout: Encodable>(configuration: Configuration, layout: Layout) -> [String: String] {
        var meta: [String: String] = [:]
        meta[CheckpointKey.runConfiguration] = try? json(configuration)
        meta[CheckpointKey.layout] = try? json(layout)
        return meta
    }

    /// A metadata value: compact JSON with sorted keys.
    static func json<T: Encodable>(_ value: T) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: try enc.encode(value), as: UTF8.self)
    }
}
