// `esvit forward`: run the backbone on a .npy batch with weights from a safetensors file and
// write the pooled features (and optionally the final token map) as .npy. This is how anyone
// checks our backbone against PyTorch on their own weights.
import ArgumentParser
import ESCheckpoint
import ESKernels
import ESModel
import ESOptions
import Foundation

struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the Swin backbone on a .npy batch and save features (checks against PyTorch).",
        discussion: """
        X must be float32 (N, C, H, W), already normalised, square, with H and W multiples of the \
        patch size. Weights use the official key names (patch_embed.*, layers.S.blocks.B.*, norm.*); \
        --prefix selects a sub-tree of a larger file, e.g. 'teacher.backbone.' in an esvit checkpoint. \
        Missing, unexpected (other than relative_position_index) or mis-shaped keys are listed and \
        the command fails before computing anything.

        Example: esvit forward --arch swin_tiny --weights ckpt.safetensors --prefix teacher.backbone. \
        --input x.npy --features f.npy --tokens t.npy --threads 2
        """)

    @OptionGroup var archOptions: ArchOptions
    @Option(help: "safetensors file with the backbone weights.") var weights: String
    @Option(help: "Key prefix inside the weights file (e.g. 'teacher.backbone.').") var prefix: String = ""
    @Option(help: "Input .npy, float32 (N, C, H, W).") var input: String
    @Option(help: "Output .npy for the pooled features (N, C_out).") var features: String
    @Option(help: "Optional output .npy for the final normed tokens (N, L, C_out).") var tokens: String?
    @Option(help: "Compute threads (Swift kernels and OpenBLAS).") var threads: Int = 1
    @Option(help: "Images per forward pass.") var batchSize: Int = 32

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be ≥ 1") }
        if batchSize < 1 { throw ValidationError("--batch-size must be ≥ 1") }
    }

    func run() throws {
        let cfg = try archOptions.config()
        Compute.setThreads(threads)
        let x: NpyArray
        do { x = try Npy.read(input) } catch { throw CLIError("\(error)") }
        guard x.shape.count == 4 else { throw CLIError("\(input): shape \(x.shape) is not (N, C, H, W)") }
        let (N, C, H, W) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard C == cfg.inChans else { throw CLIError("\(input) has \(C) channels, the model takes \(cfg.inChans) (--in-chans)") }
        guard H % cfg.patchSize == 0, W % cfg.patchSize == 0 else {
            throw CLIError("\(input): \(H)×\(W) is not a multiple of the patch size \(cfg.patchSize)")
        }
        guard H == W else { throw CLIError("\(input): \(H)×\(W) is not square; the EsViT Swin assumes square inputs") }
        let table = ParameterTable()
        let model = SwinModel(config: cfg, table: table)
        let params = table.makeArena()
        do {
            let file = try CheckpointFile.open(weights)
            try Weights.load(file.safetensors, table: table, into: params.pointer, filePrefix: prefix)
        } catch { throw CLIError("\(error)") }
        let bs = min(batchSize, N)
        let ws = SwinWorkspace(model: model, batch: bs, height: H, width: W, training: false)
        let Lf = ws.finalTokens, Cf = ws.finalDim
        var feats = [Float](repeating: 0, count: N * Cf)
        var toks = [Float](repeating: 0, count: tokens == nil ? 0 : N * Lf * Cf)
        let per = C * H * W
        let padded = FloatBuffer(count: bs * per)
        var start = 0
        while start < N {
            let n = min(bs, N - start)
            padded.zero()
            x.data.withUnsafeBufferPointer { padded.pointer.update(from: $0.baseAddress! + start * per, count: n * per) }
            model.forward(params: params.pointer, image: padded.pointer, workspace: ws)
            for i in 0..<(n * Cf) { feats[start * Cf + i] = ws.pooled[i] }
            if tokens != nil { for i in 0..<(n * Lf * Cf) { toks[start * Lf * Cf + i] = ws.tokens[i] } }
            start += n
        }
        try Npy.write(NpyArray(shape: [N, Cf], data: feats), to: features)
        if let t = tokens { try Npy.write(NpyArray(shape: [N, Lf, Cf], data: toks), to: t) }
        print("forward: \(N) images \(H)×\(W) → features (\(N), \(Cf))\(tokens != nil ? ", tokens (\(N), \(Lf), \(Cf))" : "") with \(cfg.depths.reduce(0, +)) blocks")
    }
}
