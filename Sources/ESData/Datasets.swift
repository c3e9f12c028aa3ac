// The datasets the commands read, and the factory most of them open data through: Fashion-MNIST's IDX files
// (the embedded default, Debian's dataset-fashion-mnist) and JPEG folders in the ImageNet layout
// (root/<class>/<image>.jpg; labelled data as root/train and root/val). Each kind also names its
// normalisation (per-channel mean and std) and its default location.
public enum DatasetKind: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case fashionMNIST = "fashion-mnist", fashionScenes = "fashion-scenes", folder
    public var description: String { rawValue }

    /// What the commands use when --dataset is not given.
    public static let standard = DatasetKind.fashionMNIST

    /// Where the data is when --data-path is not given (nil: the path is required).
    public var defaultPath: String? { self == .folder ? nil : FashionMNIST.defaultRoot }

    /// Normalisation: Fashion-MNIST's statistics for both Fashion-MNIST sets (a scene is mostly
    /// background, as the items are; the constants only centre the input), ImageNet's otherwise.
    public var mean: [Float] { self == .folder ? MultiCropConfig.imagenetMean : MultiCropConfig.fashionMean }
    public var std: [Float] { self == .folder ? MultiCropConfig.imagenetStd : MultiCropConfig.fashionStd }

    /// How to get the data when `path` is missing.
    public var installHint: String {
        self == .folder ? "--data-path must name a folder of class sub-folders of JPEGs"
                        : "apt-get install dataset-fashion-mnist, or point --data-path at the IDX files"
    }

    /// The training images at `path`: Fashion-MNIST's training split, the scenes made of it, or
    /// the folder itself.
    public func trainingImages(at path: String) throws -> ImageSource {
        switch self {
        case .folder: return try ImageFolder(root: path)
        case .fashionMNIST: return try FashionMNIST(root: path, split: .train)
        case .fashionScenes: return FashionScenes(items: try FashionMNIST(root: path, split: .train))
        }
    }

    /// The test images at `path` as they come (region-level measures): Fashion-MNIST's test split,
    /// the test scenes, or the folder's val/.
    public func testImages(at path: String) throws -> ImageSource {
        switch self {
        case .folder: return try ImageFolder(root: path + "/val")
        case .fashionMNIST: return try FashionMNIST(root: path, split: .test)
        case .fashionScenes: return FashionScenes(items: try FashionMNIST(root: path, split: .test))
        }
    }

    /// Labelled training and test images at `path`: Fashion-MNIST's two splits (for the scenes:
    /// its single items on the scenes' canvas, FashionItems), or the folder's train/ and val/.
    public func labelledSplits(at path: String) throws -> (train: ImageSource, test: ImageSource) {
        switch self {
        case .folder: return (try ImageFolder(root: path + "/train"), try ImageFolder(root: path + "/val"))
        case .fashionMNIST: return (try FashionMNIST(root: path, split: .train), try FashionMNIST(root: path, split: .test))
        case .fashionScenes: return (FashionItems(items: try FashionMNIST(root: path, split: .train)), FashionItems(items: try FashionMNIST(root: path, split: .test)))
        }
    }
}
