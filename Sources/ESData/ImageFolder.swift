// Datasets as sources of labelled RGB images:
//   * ImageFolder: the ImageNet layout root/<class>/…/<file>.jpg|.jpeg (any case). Classes are
//     the sorted sub-folder names, indexed 0…, files walked recursively in sorted order, as
//     torchvision's ImageFolder. A missing root, no class folders or no images is an error
//     before any training starts, with a hint.
//   * FashionMNIST conforms too (grayscale replicated to RGB).
import Foundation

public protocol ImageSource: Sendable {
    var count: Int { get }
    var classNames: [String] { get }
    func label(_ i: Int) -> Int
    /// A human-readable name for sample i (path or dataset index), for logs.
    func name(_ i: Int) -> String
    /// Decodes sample i. `plan` is called once with the stored (width, height), before any pixel
    /// is decoded, and returns the smallest short side the decode must keep (0: full size), which
    /// lets JPEGs decode at 1/2, 1/4 or 1/8 in the DCT domain. Each file is read once.
    func load(_ i: Int, plan: (_ width: Int, _ height: Int) -> Int) throws -> RGBImage
}

extension ImageSource {
    /// Decodes sample i keeping at least `minShortSide` on the short side (0: full size).
    public func load(_ i: Int, minShortSide: Int) throws -> RGBImage { try load(i) { _, _ in minShortSide } }

    /// Decodes up to `tries` samples spread over the dataset and throws, naming the first
    /// failure, when none of them is usable (run before training starts). Returns how many of
    /// the tried samples failed.
    @discardableResult
    public func checkUsable(tries: Int = 32) throws -> Int {
        let n = min(tries, count)
        var failures = 0, firstError = ""
        for k in 0..<n {
            let i = k * count / n
            do { _ = try load(i, minShortSide: 0) } catch {
                failures += 1
                if firstError.isEmpty { firstError = "\(name(i)): \(error)" }
            }
        }
        if failures == n {
            throw DataError.malformed("none of the \(n) images tried could be decoded (first: \(firstError)); check the data path and that the files are JPEGs")
        }
        return failures
    }
}

public struct ImageFolder: ImageSource {
    public let root: String
    public let classNames: [String]
    public let paths: [String]
    public let labels: [Int32]
    public let maxPixels: Int

    static let extensions: Set<String> = ["jpg", "jpeg"]

    public init(root: String, maxPixels: Int = JPEG.defaultMaxPixels) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw DataError.missing("data path \(root) does not exist or is not a folder; expected root/<class>/<image>.jpg (the ImageNet layout)")
        }
        let entries = (try? fm.contentsOfDirectory(atPath: root)) ?? []
        let classes = entries.filter { e in
            var d: ObjCBool = false
            return !e.hasPrefix(".") && fm.fileExists(atPath: root + "/" + e, isDirectory: &d) && d.boolValue
        }.sorted()
        guard !classes.isEmpty else {
            throw DataError.missing("found no class folders in \(root); expected root/<class>/<image>.jpg (the ImageNet layout)")
        }
        var paths: [String] = [], labels: [Int32] = []
        for (c, name) in classes.enumerated() {
            let dir = root + "/" + name
            guard let walker = fm.enumerator(atPath: dir) else { continue }
            var files: [String] = []
            while let rel = walker.nextObject() as? String {
                let ext = (rel as NSString).pathExtension.lowercased()
                if ImageFolder.extensions.contains(ext) { files.append(dir + "/" + rel) }
            }
            for f in files.sorted() { paths.append(f); labels.append(Int32(c)) }
        }
        guard !paths.isEmpty else {
            throw DataError.missing("found \(classes.count) class folders in \(root) but no .jpg/.jpeg files in them")
        }
        self.root = root; classNames = classes; self.paths = paths; self.labels = labels; self.maxPixels = maxPixels
    }

    public var count: Int { paths.count }
    public func label(_ i: Int) -> Int { Int(labels[i]) }
    public func name(_ i: Int) -> String { paths[i] }
    public func load(_ i: Int, plan: (_ width: Int, _ height: Int) -> Int) throws -> RGBImage {
        guard let data = FileManager.default.contents(atPath: paths[i]) else { throw DataError.missing("cannot read the file") }
        let bytes = [UInt8](data)
        let (w, h) = try JPEG.size(bytes)
        return try JPEG.decode(bytes, minShortSide: plan(w, h), maxPixels: maxPixels).0
    }
}

extension FashionMNIST: ImageSource {
    public var classNames: [String] { FashionMNIST.classNames }
    public func label(_ i: Int) -> Int { Int(labels[i]) }
    public func name(_ i: Int) -> String { "fashion-mnist/\(split.rawValue)/\(i)" }
    public func load(_ i: Int, plan: (_ width: Int, _ height: Int) -> Int) throws -> RGBImage {
        _ = plan(28, 28)                 // no reduced decoding for 28 px images; the plan still runs
        var px = [UInt8](repeating: 0, count: 28 * 28 * 3)
        let base = i * 784
        for k in 0..<784 { let v = pixels[base + k]; px[3 * k] = v; px[3 * k + 1] = v; px[3 * k + 2] = v }
        return RGBImage(width: 28, height: 28, pixels: px)
    }
}
