// `esvit forward`: run the backbone on a .npy batch with weights from any file esvit reads and
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
        patch size. --weights is an esvit training checkpoint (its teacher by default; the \
        architecture comes from the file) or weights from elsewhere: a torch.save .pth (upstream \
        EsViT checkpoints, official Swin releases) or a safetensors file (timm, esvit export), with \
        the architecture given by --arch and its overrides. Where the backbone sits in the file \
        (no prefix, 'teacher.backbone.', 'student.module.backbone.', 'model.', …) and whether it \
        uses official or timm names is found; --which picks teacher or student where a file has \
        both, --prefix names the place outright. Missing, unexpected or mis-shaped keys are listed \
        and the command fails before computing anything; classifier heads and constant buffers \
        are skipped and named.

        Examples:
          esvit forward --weights runs/quickstart/checkpoint.safetensors --input x.npy --features f.npy
          esvit forward --arch swin_tiny --weights esvit_swin_tiny.pth --which teacher \
            --input x.npy --features f.npy --tokens t.npy --threads 2
        """)

    @OptionGroup var archOptions: ArchOptions
    @Option(help: "Weights: an esvit training checkpoint, a torch.save .pth or a safetensors file.") var weights: String
    @Option(help: "Which network of a file that holds both (a training checkpoint, an upstream EsViT .pth).") var which: EvalNetwork = .teacher
    @Option(help: "Where the backbone sits in the weights file (e.g. 'teacher.backbone.'); found by default.") var prefix: String?
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
        let out = try BackboneForward.run(cfg, weights: weights, which: which, prefix: prefix, input: x, inputName: input, batch: batchSize, keepTokens: tokens != nil)
        print("forward: \(out.origin)")
        try Npy.write(out.features, to: features)
        if let t = tokens, let tk = out.tokens { try Npy.write(tk, to: t) }
        print("forward: \(x.shape[0]) images \(x.shape[2])×\(x.shape[3]) → features (\(out.features.shape.map(String.init).joined(separator: ", ")))"
              + (out.tokens.map { ", tokens (\($0.shape.map(String.init).joined(separator: ", ")))" } ?? "") + " with \(out.blocks) blocks")
    }
}
