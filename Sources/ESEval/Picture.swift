// What `esvit visualize` pictures are made of and written to: a backbone (a training checkpoint's
// teacher or student, or a weights file, .pth or safetensors), one input image (a JPEG file, normalised with
// ImageNet's statistics, or a Fashion-MNIST test image with its own), and the output file whose
// suffix picks PNG (lossless) or JPEG.
import ESData
import ESModel
import Foundation

public enum PictureImage: Sendable {
    case jpeg(path: String)
    case fashionMNIST(index: Int, root: String)
}

public struct PictureInput {
    public let backbone: EvalBackbone
    public let image: RGBImage
    public let mean: [Float], std: [Float]

    public init(checkpoint: String, which: EvalNetwork, arch: SwinConfig?, prefix: String? = nil, image source: PictureImage) throws {
        backbone = try EvalBackbone(path: checkpoint, which: which, arch: arch, prefix: prefix)
        switch source {
        case .fashionMNIST(let i, let root):
            let fm = try FashionMNIST(root: root, split: .test)
            guard i >= 0 && i < fm.count else { throw EvalError.invalid("--fashion-index must be in 0..<\(fm.count)") }
            image = try fm.load(i, minShortSide: 0)
            mean = MultiCropConfig.fashionMean; std = MultiCropConfig.fashionStd
        case .jpeg(let path):
            image = try JPEG.decode(file: path).0
            mean = MultiCropConfig.imagenetMean; std = MultiCropConfig.imagenetStd
        }
    }
}

public enum PictureFile {
    /// nil when `path`'s suffix names a format pictures are written in, else the complaint.
    public static func problem(_ path: String) -> String? {
        let o = path.lowercased()
        return o.hasSuffix(".png") || o.hasSuffix(".jpg") || o.hasSuffix(".jpeg") ? nil
            : "--out must end in .png, .jpg or .jpeg (the suffix picks the format), got \(path)"
    }

    /// Writes `picture` atomically as PNG or JPEG by `path`'s suffix.
    public static func write(_ picture: RGBImage, to path: String) throws {
        do {
            let data = path.lowercased().hasSuffix(".png") ? try PNG.encode(picture)
                : try JPEG.encode(picture.pixels, width: picture.width, height: picture.height, components: 3)
            try AtomicFile.write(data, to: path)
        } catch { throw EvalError.invalid("cannot write \(path): \(error)") }
    }
}
