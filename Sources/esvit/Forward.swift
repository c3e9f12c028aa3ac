// `esvit forward`: run the backbone on a .npy batch with weights from a safetensors file and
// write the pooled features (and optionally the final token map) as .npy. This is how anyone
// checks our backbone against PyTorch on their own weights. The work is ESEval's BackboneForward.
import ArgumentParser
import ESEval
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
        let out = try BackboneForward.run(cfg, weights: weights, prefix: prefix, input: x, inputName: input, batch: batchSize, keepTokens: tokens != nil)
        try Npy.write(out.features, to: features)
        if let t = tokens, let tk = out.tokens { try Npy.write(tk, to: t) }
        print("forward: \(x.shape[0]) images \(x.shape[2])×\(x.shape[3]) → features (\(out.features.shape.map(String.init).joined(separator: ", ")))"
              + (out.tokens.map { ", tokens (\($0.shape.map(String.init).joined(separator: ", ")))" } ?? "") + " with \(out.blocks) blocks")
    }
}
