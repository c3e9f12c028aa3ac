// DINO's multi-crop augmentation (docs/algorithm.md §3), one crop at a time:
//   global 1: RandomResizedCrop(G, global scale) → flip/jitter/gray → GaussianBlur p 1.0
//   global 2: RandomResizedCrop(G, global scale) → flip/jitter/gray → GaussianBlur p 0.1 → Solarize p 0.2
//   local i : RandomResizedCrop(L, local scale)  → flip/jitter/gray → GaussianBlur p 0.5
//   flip/jitter/gray = flip p 0.5; with p 0.8 ColorJitter(0.4, 0.4, 0.2, 0.1) in a random order of
//   the four ops; grayscale p 0.2. Then ToTensor and Normalize into CHW floats.
// Every draw comes from KeyedRandom(seed, epoch, global sample index, crop): crops do not depend
// on ranks, loader threads or resume points. Pixel ops are bit-exact with Pillow (ImageOps).
import ESKernels
import Foundation

public struct MultiCropConfig: Codable, Equatable, Sendable {
    public var globalSize: Int
    public var localSize: Int
    public var localCrops: Int
    public var globalScale: [Double]
    public var localScale: [Double]
    /// Per-channel normalisation (ToTensor /255 first).
    public var mean: [Float]
    public var std: [Float]
    /// GaussianBlur radius range in pixels (PIL's radius = σ). Upstream draws 0.1–2.0 for 224 px
    /// crops; on 28–32 px images that range wipes out most of the picture, so the Fashion-MNIST
    /// presets scale it down (--blur-sigma). Default: upstream's.
    public var blurSigma: [Double] = [0.1, 2.0]

    public init(globalSize: Int, localSize: Int, localCrops: Int, globalScale: [Double] = [0.4, 1], localScale: [Double] = [0.05, 0.4],
                mean: [Float], std: [Float]) {
        self.globalSize = globalSize; self.localSize = localSize; self.localCrops = localCrops
        self.globalScale = globalScale; self.localScale = localScale; self.mean = mean; self.std = std
    }

    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406], imagenetStd: [Float] = [0.229, 0.224, 0.225]
    /// Fashion-MNIST's own statistics (train split, gray replicated to 3 channels).
    public static let fashionMean: [Float] = [0.2860, 0.2860, 0.2860], fashionStd: [Float] = [0.3530, 0.3530, 0.3530]

    /// ImageNet recipe: 2 × 224 (0.4, 1) + 8 × 96 (0.05, 0.4), ImageNet statistics.
    public static let imagenet = MultiCropConfig(globalSize: 224, localSize: 96, localCrops: 8, mean: imagenetMean, std: imagenetStd)
    /// CPU preset for 28 px Fashion-MNIST: 2 × 32 + 6 × 16, the dataset's statistics.
    public static let fashionMNIST = MultiCropConfig(globalSize: 32, localSize: 16, localCrops: 6, mean: fashionMean, std: fashionStd)

    public var crops: Int { 2 + localCrops }
    public func size(ofCrop c: Int) -> Int { c < 2 ? globalSize : localSize }

    public func problem() -> String? {
        if globalSize < 1 || localSize < 1 || localCrops < 0 { return "crop sizes must be positive and --local-crops-number ≥ 0" }
        for (name, s) in [("--global-crops-scale", globalScale), ("--local-crops-scale", localScale)] {
            if s.count != 2 || !(s[0] > 0 && s[0] <= s[1] && s[1] <= 1) { return "\(name) needs two values 0 < min ≤ max ≤ 1, got \(s)" }
        }
        if blurSigma.count != 2 || !(blurSigma[0] >= 0 && blurSigma[0] <= blurSigma[1]) { return "--blur-sigma needs two values 0 ≤ min ≤ max, got \(blurSigma)" }
        if mean.count != 3 || std.count != 3 || std.contains(where: { $0 <= 0 }) { return "normalisation needs 3 means and 3 positive stds" }
        return nil
    }
}

public enum MultiCrop {
    /// The keyed random stream of one crop.
    public static func rng(seed: UInt64, epoch: Int, sample: Int, crop: Int) -> KeyedRandom {
        KeyedRandom(seed, UInt64(epoch), UInt64(sample), UInt64(crop))
    }

    /// The crop's RandomResizedCrop box on an image of the given size (the first draws of `rng`).
    public static func box(height: Int, width: Int, crop: Int, config: MultiCropConfig, rng: inout KeyedRandom) -> CropBox {
        let scale = crop < 2 ? config.globalScale : config.localScale
        return RandomResizedCrop.box(height: height, width: width, scale: (scale[0], scale[1]), rng: &rng)
    }

    /// Augments crop `crop` of `img` (uint8 RGB) and returns the 8-bit result (before ToTensor).
    /// `box`: the crop box already drawn from `rng` (mapped into `img`), e.g. when the image was
    /// decoded at reduced size; nil draws it here.
    public static func augment(_ img: RGBImage, crop: Int, config: MultiCropConfig, rng: inout KeyedRandom,
                               box given: CropBox? = nil) -> RGBImage {
        let size = config.size(ofCrop: crop)
        let box = given ?? MultiCrop.box(height: img.height, width: img.width, crop: crop, config: config, rng: &rng)
        var out = ImageOps.cropResize(img, box: box, outWidth: size, outHeight: size)
        // flip_and_color_jitter
        if rng.uniform() < 0.5 { ImageOps.flipHorizontal(&out) }
        if rng.uniform() < 0.8 { colorJitter(&out, rng: &rng) }
        if rng.uniform() < 0.2 { ImageOps.grayscale(&out) }
        // GaussianBlur (applied when rand ≤ p), then solarisation for global 2.
        let blurP = crop == 0 ? 1.0 : (crop == 1 ? 0.1 : 0.5)
        if rng.uniform() <= blurP {
            let radius = Float(rng.uniform(config.blurSigma[0], config.blurSigma[1]))
            if radius > 0 { ImageOps.gaussianBlur(&out, radius: radius) }
        }
        if crop == 1 && rng.uniform() < 0.2 { ImageOps.solarize(&out) }
        return out
    }

    /// torchvision's ColorJitter(brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1): the four
    /// adjustments in a random order with factors drawn from `rng`.
    public static func colorJitter(_ out: inout RGBImage, rng: inout KeyedRandom) {
        var order = [0, 1, 2, 3]
        for i in stride(from: 3, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let b = rng.uniform32(0.6, 1.4), c = rng.uniform32(0.6, 1.4), s = rng.uniform32(0.8, 1.2), h = rng.uniform32(-0.1, 0.1)
        for op in order {
            switch op {
            case 0: ImageOps.adjustBrightness(&out, b)
            case 1: ImageOps.adjustContrast(&out, c)
            case 2: ImageOps.adjustSaturation(&out, s)
            default: ImageOps.adjustHue(&out, h)
            }
        }
    }

    /// ToTensor + Normalize: HWC uint8 → CHW floats at `dst`.
    public static func normalize(_ img: RGBImage, mean: [Float], std: [Float], into dst: UnsafeMutablePointer<Float>) {
        let n = img.width * img.height
        img.pixels.withUnsafeBufferPointer { p in
            for c in 0..<3 {
                let m = mean[c], inv = 1 / std[c], plane = dst + c * n
                for i in 0..<n { plane[i] = (Float(p[3 * i + c]) / 255 - m) * inv }
            }
        }
    }
}
