// `pretrain --init-from FILE`: the student and teacher backbones start from weights made elsewhere
// (a released EsViT .pth, an official or timm Swin, one of our checkpoints or exports); the heads
// keep their fresh initialisation, as upstream's --pretrained_weights with new heads. The file is
// found, mapped and checked as everywhere weights are read (ESModel's BackboneKeyMap and Weights):
// nothing is modified unless every backbone tensor is there with its shape.
import ESModel
import Foundation

extension EsViT {
    /// Loads the backbone of `path` (`which` picks teacher or student in a file with both) into
    /// the student and copies it into the teacher. Returns the lines to log.
    public func initializeBackbone(from path: String, which: String, prefix: String? = nil) throws -> [String] {
        let source = try WeightsFile.open(path)
        let map = try BackboneKeyMap.locate(in: source.shapes.keys, which: which, prefix: prefix, whichOption: "--init-which", prefixOption: "--init-prefix")
        let staged = ParameterTable()
        _ = SwinModel(config: backbone.config, table: staged, prefix: backbone.prefix)   // the backbone's entries alone
        let values = staged.makeArena()
        let skipped = try Weights.load(source, table: staged, into: values.pointer, tablePrefix: backbone.prefix, map: map)
        for e in staged.entries {
            guard let t = table.entry(e.key) else { preconditionFailure("no \(e.key) in the model's table") }
            (student.pointer + t.offset).update(from: values.pointer + e.offset, count: e.count)
            (teacher.pointer + t.offset).update(from: values.pointer + e.offset, count: e.count)
        }
        var lines = ["initialised the student and teacher backbones from \(path) (\(map.place)); the heads start fresh"]
        if let note = BackboneKeyMap.skippedNote(skipped) { lines.append("  " + note) }
        if let note = source.unverifiedNote { lines.append("  " + note) }
        return lines
    }
}
