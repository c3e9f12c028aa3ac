// The datasets the commands read, and the one place that opens them: Fashion-MNIST's IDX files
// (the embedded default, Debian's dataset-fashion-mnist) and JPEG folders in the ImageNet layout
// (root/<class>/<image>.jpg; labelled data as root/train and root/val). Each kind also names its
// normalisation (per-channel mean and std) and its default location.
public enum DatasetKind: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case fashionMNIST = "fashion-mnist", folder
    public var description: String { rawValue }

    /// What the commands use when --dataset is not given.
    public static let standard = DatasetKind.fashionMNIST

    /// Where the data is when --data-path is not given (nil: the path is required).
    public var defaultPath: String? { self == .fashionMNIST ? FashionMNIST.defaultRoot : nil }

    public var mean: [Float] { self == .fashionMNIST ? MultiCropConfig.fashionMean : MultiCropConfig.imagenetMean }
    public var std: [Float] { self == .fashionMNIST ? MultiCropConfig.fashionStd : MultiCropConfig.imagenetStd }

    /// How to get the data when `path` is missing.
    public var installHint: String {
        self == .fashionMNIST ? "apt-get install dataset-fashion-mnist, or point --data-path at the IDX files"
                              : "--data-path must name a folder of class sub-folders of JPEGs"
    }

    /// The training images at `path`: Fashion-MNIST's training split, or the folder itself.
    public func trainingImages(at path: String) throws -> ImageSource {
        self == .folder ? try ImageFolder(root: path) : try FashionMNIST(root: path, split: .train)
    }

    /// Labelled training and test images at `path`: Fashion-MNIST's two splits, or the folder's
    /// train/ and val/ sub-folders.
    public func labelledSplits(at path: String) throws -> (train: ImageSource, test: ImageSource) {
        if self == .folder { return (try ImageFolder(root: path + "/train"), try ImageFolder(root: path + "/val")) }
        return (try FashionMNIST(root: path, split: .train), try FashionMNIST(root: path, split: .test))
    }
}
