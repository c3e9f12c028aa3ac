// Options shared by the commands, as a library so that tests parse them in-process: the
// architecture (a preset plus optional overrides), the typed choices (their --help lists the
// values and a wrong value is refused with the list), thread defaults and list parsing.
import ArgumentParser
import ESData
import ESModel
import Foundation

extension Architecture: ExpressibleByArgument {}
extension DatasetKind: ExpressibleByArgument {}

public struct ArchOptions: ParsableArguments {
    public init() {}
    @Option(help: "Backbone architecture. swin_mini is the small Swin for 28–32 px inputs (CPU runs); the others are the Swin-T/S/B of the paper.")
    public var arch: Architecture = .standard
    @Option(help: "Override the patch size.") var patchSize: Int?
    @Option(help: "Override the embedding width of stage 0.") var embedDim: Int?
    @Option(help: "Override the blocks per stage, comma separated (e.g. 2,2,6,2).") var depths: String?
    @Option(help: "Override the heads per stage, comma separated (e.g. 3,6,12,24).") var numHeads: String?
    @Option(help: "Window size (presets: 7 for ImageNet models, 4 for swin_mini; 14 is also common).") var windowSize: Int?
    @Option(help: "Input channels.") var inChans: Int?
    @Option(help: "Construction resolution that freezes window clamping and shifts (224 for ImageNet presets).") var constructSize: Int?
    @Option(help: "LayerNorm eps (EsViT's 1e-6 is the default; timm and official Swin releases use 1e-5).") var layerNormEps: Float?

    /// The architecture's backbone with the overrides given.
    public func config() throws -> SwinConfig {
        var c = arch.backbone()
        try apply(to: &c)
        return c
    }

    /// Applies the overrides given to `c` (a backbone a recipe may already have changed).
    public func apply(to c: inout SwinConfig) throws {
        if let v = windowSize { c.windowSize = v }
        func ints(_ s: String, _ flag: String) throws -> [Int] {
            guard let v = commaSeparated(s, { Int($0) }) else { throw ValidationError("\(flag) takes comma-separated integers, got '\(s)'") }
            return v
        }
        if let v = patchSize { c.patchSize = v }
        if let v = embedDim { c.embedDim = v }
        if let v = depths { c.depths = try ints(v, "--depths") }
        if let v = numHeads { c.numHeads = try ints(v, "--num-heads") }
        if let v = inChans { c.inChans = v }
        if let v = constructSize { c.constructSize = v }
        if let v = layerNormEps { c.layerNormEps = v }
        if let p = c.problem() { throw ValidationError("architecture: \(p)") }
    }
}

/// The values of a comma-separated option ("10, 20,100"), or nil when it is empty or any item
/// does not parse.
public func commaSeparated<T>(_ s: String, _ parse: (String) -> T?) -> [T]? {
    let v = s.split(separator: ",").map { parse($0.trimmingCharacters(in: .whitespaces)) }
    guard !v.isEmpty, v.allSatisfy({ $0 != nil }) else { return nil }
    return v.map { $0! }
}

/// Compute threads when --threads is not given: OPENBLAS_NUM_THREADS if set, else the cores this process may use.
public var defaultThreads: Int {
    if let s = ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"], let n = Int(s), n > 0 { return n }
    return max(1, ProcessInfo.processInfo.activeProcessorCount)
}
