// Where a Swin backbone sits in a weights file and how the file names it (docs/checkpoint-format.md §7).
// Our tables use the official names (microsoft/Swin-Transformer and EsViT): the PatchMerging
// that ends stage s is `layers.s.downsample.*`. timm (0.9 and later) calls the same module
// `layers.(s+1).downsample.*`, the start of the next stage; every other backbone name is shared.
// A file may hold the backbone under a prefix: `teacher.backbone.` and `student.module.backbone.`
// in an upstream EsViT checkpoint, `teacher.backbone.` in ours, `model.` in an official Swin
// release, none in timm's. Keys under that prefix that are not backbone parameters (the
// classifier `head.*`, EsViT's `head_dense.*`, the constant `relative_position_index` and
// `attn_mask` buffers) are skipped, and reported.
import Foundation

public enum SwinNaming: String, CaseIterable, Sendable {
    case official, timm

    /// This naming's name for an official backbone key (relative to the backbone).
    public func name(_ official: String) -> String { self == .timm ? SwinNaming.shiftDownsample(official, by: 1) : official }

    /// The official name of this naming's key.
    public func official(_ key: String) -> String { self == .timm ? SwinNaming.shiftDownsample(key, by: -1) : key }

    /// `layers.N.downsample.…` → `layers.(N+by).downsample.…`; other keys unchanged.
    static func shiftDownsample(_ key: String, by: Int) -> String {
        let parts = key.split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "layers", parts[2] == "downsample", let n = Int(parts[1]) else { return key }
        return "layers.\(n + by).downsample.\(parts[3])"
    }
}

/// A backbone's place and naming in a file.
public struct BackboneKeyMap: Sendable, Equatable {
    public let prefix: String
    public let naming: SwinNaming
    /// Whether keys under `prefix` that are no backbone parameter (heads, buffers) are skipped
    /// rather than refused (true for weights from elsewhere; false inside our own checkpoints).
    public let skipsNonBackbone: Bool
    /// Other backbones' prefixes that begin with `prefix` (e.g. 'ema.' beside a backbone with no
    /// prefix): their keys are not this backbone's, nor unexpected.
    public let others: [String]
    /// The options that choose the network and the prefix, for hints ("--which", "--prefix";
    /// pretrain: "--init-which", "--init-prefix").
    public let whichOption: String, prefixOption: String

    public init(prefix: String = "", naming: SwinNaming = .official, skipsNonBackbone: Bool = false, others: [String] = [],
                whichOption: String = "--which", prefixOption: String = "--prefix") {
        self.prefix = prefix; self.naming = naming; self.skipsNonBackbone = skipsNonBackbone; self.others = others
        self.whichOption = whichOption; self.prefixOption = prefixOption
    }

    /// "keys under 'teacher.backbone.', official names" or "no prefix, timm names".
    public var place: String { (prefix.isEmpty ? "no prefix" : "keys under '\(prefix)'") + ", \(naming) names" }

    /// The file key of an official key below the table prefix.
    public func fileKey(_ official: some StringProtocol) -> String { prefix + naming.name(String(official)) }

    /// Whether `fileKey` lies under this backbone's prefix and under no other backbone's.
    public func isUnder(_ fileKey: String) -> Bool { fileKey.hasPrefix(prefix) && !others.contains { fileKey.hasPrefix($0) } }

    /// A key under the prefix that is never a parameter: constant buffers always; heads when skipping.
    public func isSkipped(_ fileKey: String) -> Bool {
        if fileKey.hasSuffix("relative_position_index") || fileKey.hasSuffix("attn_mask") { return true }
        guard skipsNonBackbone, fileKey.hasPrefix(prefix) else { return false }
        let rest = fileKey.dropFirst(prefix.count)
        return rest.hasPrefix("head.") || rest.hasPrefix("head_dense.")
    }

    /// Finds the backbone in a file with these tensor names: every prefix under which
    /// `patch_embed.proj.weight` appears is a candidate; `which` ("teacher"/"student") picks
    /// among candidates that name a network, a lone candidate that names none is taken as it is.
    /// The naming is timm's when the last stage starts with a downsample and stage 0 ends
    /// without one; official otherwise.
    public static func locate(in names: some Collection<String>, which: String?, prefix given: String? = nil,
                              whichOption: String = "--which", prefixOption: String = "--prefix") throws -> BackboneKeyMap {
        let marker = "patch_embed.proj.weight"
        let candidates = names.filter { $0.hasSuffix(marker) }.map { String($0.dropLast(marker.count)) }.sorted()
        let prefix: String
        if var given {
            if !given.isEmpty && !given.hasSuffix(".") { given += "." }
            guard candidates.contains(given) else {
                throw SafeTensorsError.mismatch("no backbone under prefix '\(given)' (no \(given)\(marker)); backbones found under: "
                                                + BackboneKeyMap.list(candidates))
            }
            prefix = given
        } else {
            func names(_ p: String, _ role: String) -> Bool { p.split(separator: ".").contains { $0 == role } }
            let roles = candidates.filter { names($0, "teacher") || names($0, "student") }
            let picked = which.map { w in candidates.filter { names($0, w) } } ?? []
            if picked.count == 1 { prefix = picked[0] }
            else if roles.isEmpty && candidates.count == 1 { prefix = candidates[0] }
            else if candidates.isEmpty { throw SafeTensorsError.mismatch("the file holds no Swin backbone (no tensor named …\(marker))") }
            else if let which, picked.isEmpty, roles.count == candidates.count {
                throw SafeTensorsError.mismatch("the file has no \(which) backbone, only: " + BackboneKeyMap.list(candidates)
                                                + "; choose the network with \(whichOption)")
            } else {
                throw SafeTensorsError.mismatch("cannot tell which backbone to load\(which.map { " as the \($0)" } ?? ""); the file has backbones under: "
                                                + BackboneKeyMap.list(candidates) + "; choose one with \(prefixOption)")
            }
        }
        let set = Set(names)
        var last = 0
        while set.contains(prefix + "layers.\(last + 1).blocks.0.norm1.weight") { last += 1 }
        let timm = last > 0 && set.contains(prefix + "layers.\(last).downsample.reduction.weight")
            && !set.contains(prefix + "layers.0.downsample.reduction.weight")
        return BackboneKeyMap(prefix: prefix, naming: timm ? .timm : .official, skipsNonBackbone: true,
                              others: candidates.filter { $0 != prefix && $0.hasPrefix(prefix) }, whichOption: whichOption, prefixOption: prefixOption)
    }

    /// One line naming the skipped keys that are not constant buffers (the heads), or nil.
    public static func skippedNote(_ skipped: [String]) -> String? {
        let heads = skipped.filter { !$0.hasSuffix("relative_position_index") && !$0.hasSuffix("attn_mask") }
        guard !heads.isEmpty else { return nil }
        return "not part of the backbone, skipped (\(heads.count)): " + heads.prefix(6).joined(separator: ", ") + (heads.count > 6 ? ", …" : "")
    }

    static func list(_ prefixes: [String]) -> String {
        prefixes.isEmpty ? "none" : prefixes.map { $0.isEmpty ? "(no prefix)" : "'\($0)'" }.joined(separator: ", ")
    }

    /// The architecture the file's tensors under this map describe, as flags, for hints:
    /// e.g. "--patch-size 4 --embed-dim 96 --depths 2,2,6,2 --num-heads 3,6,12,24 --window-size 7 --in-chans 3".
    public func describe(_ shapes: [String: [Int]]) -> String? {
        guard let proj = shapes[fileKey("patch_embed.proj.weight")], proj.count == 4 else { return nil }
        var depths: [Int] = [], heads: [Int] = [], window = 0
        while true {
            let s = depths.count
            var b = 0
            while shapes[fileKey("layers.\(s).blocks.\(b).norm1.weight")] != nil { b += 1 }
            guard b > 0 else { break }
            depths.append(b)
            guard let t = shapes[fileKey("layers.\(s).blocks.0.attn.relative_position_bias_table")], t.count == 2 else { return nil }
            heads.append(t[1])
            if s == 0 { window = (Int(Double(t[0]).squareRoot().rounded()) + 1) / 2 }
        }
        guard !depths.isEmpty else { return nil }
        return "--patch-size \(proj[2]) --embed-dim \(proj[0]) --depths \(depths.map(String.init).joined(separator: ",")) "
            + "--num-heads \(heads.map(String.init).joined(separator: ",")) --window-size \(window) --in-chans \(proj[1])"
    }
}
