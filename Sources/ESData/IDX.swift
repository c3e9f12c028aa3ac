// IDX files (the MNIST family's format), gzip-compressed or not: a big-endian header
// (0x00 0x00 type ndim, then ndim u32 sizes) followed by the data. Only unsigned bytes (0x08)
// are supported, which covers image and label files. Everything is validated before use:
// magic, type, dimension count, sizes against the data actually present.
import CZlib
import Foundation

public struct IDXArray: Sendable {
    public let shape: [Int]
    public let bytes: [UInt8]
}

public enum DataError: Error, CustomStringConvertible {
    case missing(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .missing(let m), .malformed(let m): return m
        }
    }
}

public enum IDX {
    public static func read(_ path: String) throws -> IDXArray {
        guard FileManager.default.fileExists(atPath: path) else { throw DataError.missing("\(path): no such file") }
        guard let gz = gzopen(path, "rb") else { throw DataError.missing("\(path): cannot open") }
        defer { gzclose(gz) }
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(gz, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { throw DataError.malformed("\(path): corrupt gzip stream") }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<Int(n)])
        }
        guard data.count >= 4, data[0] == 0, data[1] == 0 else {
            throw DataError.malformed("\(path): not an IDX file (bad magic)")
        }
        guard data[2] == 0x08 else { throw DataError.malformed("\(path): IDX element type 0x\(String(data[2], radix: 16)) is not unsigned byte") }
        let ndim = Int(data[3])
        guard ndim >= 1, ndim <= 4, data.count >= 4 + 4 * ndim else { throw DataError.malformed("\(path): IDX header truncated or \(ndim) dimensions") }
        var shape = [Int]()
        for d in 0..<ndim {
            let o = 4 + 4 * d
            shape.append(Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3]))
        }
        let count = shape.reduce(1, *), start = 4 + 4 * ndim
        guard data.count - start == count else {
            throw DataError.malformed("\(path): shape \(shape) needs \(count) bytes but the file holds \(data.count - start)")
        }
        return IDXArray(shape: shape, bytes: Array(data[start...]))
    }
}

/// Fashion-MNIST from Debian's dataset-fashion-mnist (or any folder with the four IDX files).
public struct FashionMNIST: Sendable {
    public static let defaultRoot = "/usr/share/datasets/fashion-mnist"
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    public enum Split: String, Sendable { case train, test }

    public let split: Split
    /// (N, 28, 28) grayscale pixels and N labels in 0..<10.
    public let pixels: [UInt8]
    public let labels: [UInt8]
    public let count: Int
    public let height = 28, width = 28

    public init(root: String = FashionMNIST.defaultRoot, split: Split) throws {
        let prefix = split == .train ? "train" : "t10k"
        func find(_ name: String) throws -> String {
            for candidate in ["\(root)/\(name).gz", "\(root)/\(name)"] where FileManager.default.fileExists(atPath: candidate) { return candidate }
            throw DataError.missing("Fashion-MNIST file \(name)(.gz) not found in \(root); install it with `apt-get install dataset-fashion-mnist` or pass --data-path")
        }
        let images = try IDX.read(try find("\(prefix)-images-idx3-ubyte"))
        let labels = try IDX.read(try find("\(prefix)-labels-idx1-ubyte"))
        guard images.shape.count == 3, images.shape[1] == 28, images.shape[2] == 28 else {
            throw DataError.malformed("\(root): \(prefix) images have shape \(images.shape), expected (N, 28, 28)")
        }
        guard labels.shape == [images.shape[0]] else {
            throw DataError.malformed("\(root): \(images.shape[0]) images but \(labels.shape) labels")
        }
        if labels.bytes.contains(where: { $0 > 9 }) { throw DataError.malformed("\(root): a label is outside 0...9") }
        self.split = split; pixels = images.bytes; self.labels = labels.bytes; count = images.shape[0]
    }
}
