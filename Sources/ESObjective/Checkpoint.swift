// Saving and loading the whole training state of an EsViT pair as a training checkpoint (the
// format, its names and its checks are ESCheckpoint's; docs/checkpoint-format.md): the student,
// teacher and AdamW moments under upstream names, both centers, and the metadata records
// (configuration, position, AdamW step counts, plus what the caller adds). Written atomically
// (temp file, fsync, rename, fsync of the folder), with every tensor's CRC-32. Loading runs every
// check first and modifies nothing unless all pass: the tensors are staged, then committed.
import ESCheckpoint
import ESKernels
import ESModel
import Foundation

extension EsViT {
    /// Writes the whole training state atomically to `path`.
    public func saveCheckpoint(to path: String, info: CheckpointInfo, extraMetadata: [String: String] = [:]) throws {
        try saveCheckpoint(to: [path], info: info, extraMetadata: extraMetadata)
    }

    /// Writes the whole training state atomically to each of `paths`, streamed from the arenas
    /// (no copy of the state; the checksums are computed once).
    public func saveCheckpoint(to paths: [String], info: CheckpointInfo, extraMetadata: [String: String] = [:]) throws {
        var w = SafeTensorsWriter()
        for (prefix, arena) in zip(CheckpointTensors.parameterCopies, parameterCopies) {
            Weights.add(table, arena.pointer, to: &w, filePrefix: prefix, borrowing: true)   // written before this returns
        }
        for (name, center) in zip(CheckpointTensors.centers, [centers.view, centers.region]) {
            w.add(name, shape: [1, config.head.outDim], borrowing: center.pointer)
        }
        w.metadata = try CheckpointMetadata.training(config: config, info: info, optimizerSteps: optimizer.steps, adding: extraMetadata)
        try w.write(to: paths)
    }

    /// Loads a checkpoint written by `saveCheckpoint` into this model (same configuration).
    /// Nothing is modified unless every check passes.
    @discardableResult
    public func loadCheckpoint(from path: String) throws -> CheckpointInfo {
        try loadCheckpoint(from: CheckpointFile.openForLoading(path))
    }

    /// The same for a file already opened (e.g. to read its run configuration too).
    @discardableResult
    public func loadCheckpoint(from file: CheckpointFile) throws -> CheckpointInfo {
        try file.validate()
        let (stored, info, steps) = try file.trainingRecords(parameterTensors: table.entries.count)
        try file.requireCompatible(stored, with: config)
        // Stage everything, then commit.
        let staged = parameterCopies.map { _ in table.makeArena() }
        let stagedCenters = CheckpointTensors.centers.map { _ in FloatBuffer(count: config.head.outDim) }
        do {
            for (prefix, arena) in zip(CheckpointTensors.parameterCopies, staged) {
                try Weights.load(file.safetensors, table: table, into: arena.pointer, filePrefix: prefix)
            }
            for (name, center) in zip(CheckpointTensors.centers, stagedCenters) {
                try file.safetensors.copyFloats(name, into: center.pointer, count: center.count)
            }
            try file.safetensors.verifyUnread()   // a file opened `.onCopy` holds nothing unchecked before the commit
        } catch { throw CheckpointError.invalid("cannot use checkpoint: \(error)") }
        for (src, dst) in zip(staged + stagedCenters, parameterCopies + [centers.view, centers.region]) {
            dst.pointer.update(from: src.pointer, count: src.count)
        }
        optimizer.steps = steps
        return info
    }

    /// The arenas stored under `CheckpointTensors.parameterCopies`, in that order.
    var parameterCopies: [FloatBuffer] { [student, teacher, optimizer.m, optimizer.v] }
}
