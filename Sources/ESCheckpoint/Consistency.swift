// A training checkpoint checked against itself (docs/checkpoint-format.md §3): the tensors must be
// the ones its model configuration (metadata `config`) gives — every student, teacher and AdamW
// moment with its shape, the centers [1, K] — and the writing run's own record of its
// configuration (`pretrain_config`, when present) must agree with it on the backbone, the heads,
// the region loss and the crop sizes. Failures name the disagreement.
import ESModel
import Foundation

extension CheckpointFile {
    /// Refuses a training checkpoint whose configuration disagrees with its tensors or with
    /// the run's record of it, naming the disagreement.
    public func checkConsistency() throws {
        let c = try modelConfig()
        try checkTensors(against: c)
        try checkRunRecord(against: c)
    }

    /// Every parameter copy and both centers have the shapes `c` gives them.
    func checkTensors(against c: EsViTConfig) throws {
        let table = ParameterTable()
        _ = EsViTModules(config: c, table: table)
        for prefix in CheckpointTensors.parameterCopies {
            do { try Weights.check(safetensors, table: table, filePrefix: prefix) } catch {
                throw CheckpointError.invalid("\(path): its configuration metadata disagrees with its tensors: \(error)")
            }
        }
        for name in CheckpointTensors.centers {
            if let t = safetensors.tensors[name], t.shape != [1, c.head.outDim] {
                throw CheckpointError.invalid("\(path): \(name) has shape \(t.shape) but the configuration's head has K = \(c.head.outDim)")
            }
        }
    }

    /// The run's record (`pretrain_config`), when present, repeats `c`'s backbone, heads,
    /// region loss and crop sizes.
    func checkRunRecord(against c: EsViTConfig) throws {
        let key = CheckpointKey.runConfiguration
        guard let runText = metadata[key] else { return }
        guard let run = try? JSONSerialization.jsonObject(with: Data(runText.utf8)) else {
            throw CheckpointError.invalid("\(path): the \(key) metadata is damaged")
        }
        let model = ConfigFields.flatten(c), stored = ConfigFields.flatten(json: run)
        var pairs = [("globalSize", "crops.globalSize"), ("localSize", "crops.localSize"), ("localCrops", "crops.localCrops"),
                     ("useDense", "useDensePrediction")]
        pairs += model.keys.filter { $0.hasPrefix("backbone.") || $0.hasPrefix("head.") }.sorted().map { ($0, $0) }
        let differ = pairs.filter { model[$0.0] != stored[$0.1] }.map {
            "config \($0.0) = \(model[$0.0] ?? "—"), \(key) \($0.1) = \(stored[$0.1] ?? "—")"
        }
        if !differ.isEmpty {
            throw CheckpointError.invalid("\(path): its two configuration records disagree (the metadata was altered): " + differ.joined(separator: "; "))
        }
    }
}
