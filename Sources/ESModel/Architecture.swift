// The named architectures (docs/algorithm.md §1.1, §2): each fixes a Swin backbone and the
// defaults that go with it — the DINO head's sizes and the multi-crop sizes. `swin_tiny`,
// `swin_small` and `swin_base` are upstream's ImageNet models (window 7, or 14 if asked);
// `swin_mini` is the small architecture for 28–32 px inputs (the Fashion-MNIST default).
public enum Architecture: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case swinTiny = "swin_tiny", swinSmall = "swin_small", swinBase = "swin_base", swinMini = "swin_mini"
    public var description: String { rawValue }

    /// What the commands use when --arch is not given.
    public static let standard = Architecture.swinMini

    public func backbone(windowSize: Int? = nil) -> SwinConfig {
        switch self {
        case .swinTiny:
            return SwinConfig(patchSize: 4, embedDim: 96, depths: [2, 2, 6, 2], numHeads: [3, 6, 12, 24],
                              windowSize: windowSize ?? 7, constructSize: 224, dropPathRate: 0.1)
        case .swinSmall:
            return SwinConfig(patchSize: 4, embedDim: 96, depths: [2, 2, 18, 2], numHeads: [3, 6, 12, 24],
                              windowSize: windowSize ?? 7, constructSize: 224, dropPathRate: 0.2)
        case .swinBase:
            return SwinConfig(patchSize: 4, embedDim: 128, depths: [2, 2, 18, 2], numHeads: [4, 8, 16, 32],
                              windowSize: windowSize ?? 7, constructSize: 224, dropPathRate: 0.2)
        case .swinMini:
            return SwinConfig(patchSize: 2, embedDim: 48, depths: [2, 2, 2], numHeads: [3, 6, 12],
                              windowSize: windowSize ?? 4, constructSize: 32, dropPathRate: 0.1)
        }
    }

    /// The CPU preset for small images (smaller head, smaller local crops).
    public var isCPUPreset: Bool { self == .swinMini }

    /// The default DINO head (both the view and the region head).
    public var head: HeadConfig { isCPUPreset ? .cpu : .imagenet }

    /// Default local crops per image and their size for global crops of `global` pixels.
    public var localCrops: Int { isCPUPreset ? 6 : 8 }
    public func localSize(global: Int) -> Int { isCPUPreset ? global / 2 : 96 }
}
