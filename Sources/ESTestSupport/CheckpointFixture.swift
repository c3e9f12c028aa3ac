// A training checkpoint written without the model that trains (ESObjective), for the tests of
// the readers (ESCheckpoint, ESEval): every tensor the format holds for an EsViTConfig — the four
// parameter copies and both centers — with name-keyed values (keyed by the tensor's name in the
// file), and the pair's records; callers may add or replace metadata (e.g. a foreign format).
import ESCheckpoint
import ESModel

public enum CheckpointFixture {
    /// swin_mini with small heads (K = 32), region loss on.
    public static let config = EsViTConfig(backbone: SwinConfig.preset("swin_mini")!,
                                           head: HeadConfig(hidden: 16, bottleneck: 8, outDim: 32, normLastLayer: false),
                                           useDense: true, batch: 2, localCrops: 2, globalSize: 32, localSize: 16)
    public static let info = CheckpointInfo(epoch: 1, iteration: 7, globalSamplePosition: 56, seed: 5, worldSize: 2, samplesIntoEpoch: 8)
    /// The AdamW step count stored for every parameter tensor.
    public static let steps = 7

    /// The values stored under tensor name `name`.
    public static func values(_ name: String, count: Int) -> [Float] { FixtureTensors.array(name, count: count, scale: 0.1) }

    /// Writes the checkpoint of `config` to `path`, with `metadata` added to (or replacing) the records.
    public static func write(to path: String, config: EsViTConfig = config, metadata: [String: String] = [:]) throws {
        let table = ParameterTable()
        _ = EsViTModules(config: config, table: table)
        var w = SafeTensorsWriter()
        for prefix in CheckpointTensors.parameterCopies {
            for e in table.entries { w.add(prefix + e.key, shape: e.shape, floats: values(prefix + e.key, count: e.count)) }
        }
        let K = config.head.outDim
        for name in CheckpointTensors.centers { w.add(name, shape: [1, K], floats: values(name, count: K)) }
        let records = try CheckpointMetadata.training(config: config, info: info,
                                                      optimizerSteps: [Int](repeating: steps, count: table.entries.count))
        w.metadata = records.merging(metadata) { $1 }
        try w.write(to: path)
    }
}
