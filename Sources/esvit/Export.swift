// `esvit export`: hand weights to PyTorch users as safetensors (backbone under official or timm
// names, or a training checkpoint in upstream EsViT's layout). The work is ESEval's Export.
import ArgumentParser
import ESCheckpoint
import ESEval
import ESModel
import ESOptions
import Foundation

extension ExportFormat: ExpressibleByArgument {}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a backbone (or a training checkpoint) as safetensors for PyTorch: timm, official (EsViT) or upstream's checkpoint layout.",
        discussion: """
        --format timm: the backbone alone under timm's names (the PatchMerging that ends stage s \
        is timm's layers.(s+1).downsample); load it with strict=True into \
        timm.models.swin_transformer.SwinTransformer(**kwargs) with the kwargs stored in the file's \
        metadata (timm_kwargs; LayerNorm eps in layer_norm_eps). README: "Weights to and from PyTorch".
        --format official: the backbone alone under EsViT's (official Swin) names, with the \
        relative_position_index buffers, for EsViT's SwinTransformer(num_classes=0) with strict=True.
        --format torch: a training checkpoint in upstream EsViT's layout, flattened: student.module.*, \
        teacher.*, dino_loss.center, dino_loss.center_grid (region loss on), epoch; no optimizer state.

        --checkpoint takes an esvit training checkpoint or, for timm/official, any weights file \
        esvit reads (a .pth from upstream, a timm file: then give --arch): a converter.

        Examples:
          esvit export --checkpoint runs/quickstart/checkpoint.safetensors --format timm --out backbone_timm.safetensors
          esvit export --checkpoint runs/quickstart/checkpoint.safetensors --format torch --out esvit_torch.safetensors
        """)

    @Option(name: [.customLong("checkpoint"), .customLong("weights")], help: "An esvit training checkpoint (or, for timm/official, any weights file).")
    var checkpoint: String
    @Option(help: "Which network: teacher or student.") var which: EvalNetwork = .teacher
    @Option(help: "Where the backbone sits in a weights file (e.g. 'teacher.backbone.'); found by default.") var prefix: String?
    @Option(help: "timm, official or torch (see above).") var format: ExportFormat
    @Option(help: "Output .safetensors file.") var out: String
    @OptionGroup(title: "Architecture (weights files other than training checkpoints)") var archOptions: ArchOptions

    func validate() throws {
        if !FileManager.default.fileExists(atPath: checkpoint) { throw ValidationError("--checkpoint \(checkpoint) does not exist") }
        if !out.hasSuffix(".safetensors") { throw ValidationError("--out must end in .safetensors (the format written), got \(out)") }
        if format == .torch && (which != .teacher || prefix != nil) { throw ValidationError("--format torch writes both networks of a training checkpoint; leave out --which and --prefix") }
    }

    func run() throws {
        let writer: SafeTensorsWriter
        let what: String
        switch format {
        case .torch:
            writer = try cli {
                guard let st = try WeightsFile.open(checkpoint) as? SafeTensorsFile, CheckpointFile(st).isTrainingCheckpoint else {
                    throw CLIError("\(checkpoint) is not an esvit training checkpoint; --format torch converts those "
                                   + "(for the backbone of another file use --format timm or official)")
                }
                return try Export.trainingLayout(CheckpointFile(st))
            }
            what = "student, teacher, centers and epoch in upstream EsViT's checkpoint layout"
        case .timm, .official:
            let b = try cli { try EvalBackbone(path: checkpoint, which: which, arch: try archOptions.config(), prefix: prefix) }
            writer = try cli { try Export.backbone(b, naming: format == .timm ? .timm : .official) }
            what = "the backbone of the \(b.origin), \(format) names" + b.notes.map { "\n  " + $0 }.joined()
        }
        try cli { try writer.write(to: out) }
        print("export: wrote \(out): \(what)")
    }
}
