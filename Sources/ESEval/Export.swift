// `esvit export`: weights for PyTorch users, as safetensors (docs/checkpoint-format.md §7).
// - official / timm: the backbone alone, under EsViT's (official Swin) names or timm's, loadable
//   with strict=True into EsViT's SwinTransformer(num_classes=0) or timm's; official files carry
//   the constant relative_position_index buffers that EsViT's state_dict holds (timm's are not
//   persistent). The metadata holds the architecture as timm keyword arguments and the LayerNorm eps.
// - torch: a training checkpoint in upstream EsViT's checkpoint layout, flattened: student.module.*
//   (DDP names), teacher.*, dino_loss.center(_grid), epoch; heads included, optimizer state not.
import ESCheckpoint
import ESModel
import Foundation

public enum ExportFormat: String, CaseIterable, Sendable, CustomStringConvertible {
    case official, timm, torch
    public var description: String { rawValue }
}

public enum Export {
    /// The backbone of `b` under `naming`, with the architecture in the metadata.
    public static func backbone(_ b: EvalBackbone, naming: SwinNaming) throws -> SafeTensorsWriter {
        var w = SafeTensorsWriter()
        Weights.add(b.table, b.params.pointer, to: &w, tablePrefix: EvalBackbone.tablePrefix, map: BackboneKeyMap(naming: naming))
        if naming == .official { addIndexBuffers(b.model, under: "", to: &w) }
        w.metadata = ["format": "esvit-backbone", "naming": naming.rawValue, "source": b.origin,
                      "swin_config": try json(b.config), "timm_kwargs": try timmKwargs(b.config),
                      "layer_norm_eps": "\(b.config.layerNormEps)"]
        return w
    }

    /// Each block's relative_position_index buffer (I64 [w², w²]) as EsViT's state_dict holds it.
    static func addIndexBuffers(_ model: SwinModel, under prefix: String, to w: inout SafeTensorsWriter) {
        let tableKeyPrefix = model.prefix
        for (bp, key) in zip(model.blocks, model.bufferKeys) {
            let n = bp.plan.windowSize * bp.plan.windowSize
            w.add(prefix + key.dropFirst(tableKeyPrefix.count), shape: [n, n], int64: bp.relIndex.map(Int64.init))
        }
    }

    /// timm.models.swin_transformer.SwinTransformer's keyword arguments for this backbone.
    static func timmKwargs(_ c: SwinConfig) throws -> String {
        struct Kwargs: Encodable {
            let img_size, patch_size, in_chans, embed_dim: Int
            let depths, num_heads: [Int]
            let window_size: Int, mlp_ratio: Double, num_classes: Int
        }
        return try json(Kwargs(img_size: c.constructSize, patch_size: c.patchSize, in_chans: c.inChans, embed_dim: c.embedDim,
                               depths: c.depths, num_heads: c.numHeads, window_size: c.windowSize, mlp_ratio: Double(c.mlpRatio), num_classes: 0))
    }

    static func json(_ v: some Encodable) throws -> String {
        let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(v), as: UTF8.self)
    }

    /// A training checkpoint in upstream's layout (student under DDP's `module.`, teacher plain,
    /// the loss's centers under `dino_loss.`, `epoch` = completed epochs as upstream counts them).
    public static func trainingLayout(_ file: CheckpointFile) throws -> SafeTensorsWriter {
        try file.validate()
        let config = try file.modelConfig()
        let table = ParameterTable(), modules = EsViTModules(config: config, table: table)
        let info = try file.trainingRecords(parameterTensors: table.entries.count).info
        let st = file.safetensors
        var w = SafeTensorsWriter()
        for (ours, theirs) in [(CheckpointTensors.student, "student.module."), (CheckpointTensors.teacher, "teacher.")] {
            for e in table.entries {
                let values = try st.floats(ours + e.key)
                values.withUnsafeBufferPointer { w.add(theirs + e.key, shape: e.shape, floats: $0.baseAddress!) }
            }
            addIndexBuffers(modules.backbone, under: theirs + CheckpointTensors.backbone, to: &w)
        }
        let centers = config.useDense ? [(CheckpointTensors.viewCenter, "center"), (CheckpointTensors.regionCenter, "center_grid")]
                                      : [(CheckpointTensors.viewCenter, "center")]
        for (ours, theirs) in centers {
            let values = try st.floats(ours)
            values.withUnsafeBufferPointer { w.add("dino_loss." + theirs, shape: [1, values.count], floats: $0.baseAddress!) }
        }
        w.add("epoch", shape: [], int64: [Int64(info.epoch)])
        w.metadata = ["format": "esvit-torch-layout", "source": file.path, "iteration": "\(info.iteration)",
                      "swin_config": try json(config.backbone), "timm_kwargs": try timmKwargs(config.backbone),
                      "layer_norm_eps": "\(config.backbone.layerNormEps)"]
        return w
    }
}
