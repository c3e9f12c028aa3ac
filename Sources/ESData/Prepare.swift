// Writes Fashion-MNIST, or the scenes made of it, as a JPEG image folder (train/ and val/, one
// sub-folder per class named so that sorted order equals label order; a scene goes under its
// first item's class), so the JPEG pipeline and torchvision's ImageFolder run on them; scenes also
// get their label maps as 8-bit gray PNGs (train_labels/NNNNN.png, val_labels/NNNNN.png, values
// 0 = background, 1 + class). Each file is complete before its rename.
import Foundation

public enum FashionMNISTExport {
    /// "0_t_shirt_top", "1_trouser", …: sorting the names gives label order.
    public static func folderName(_ label: Int) -> String {
        let raw = FashionMNIST.classNames[label].lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
        return "\(label)_" + String(raw)
    }

    /// Writes `limit` images (or scenes) per split (all when nil). Returns the number written per split.
    @discardableResult
    public static func write(to out: String, dataRoot: String = FashionMNIST.defaultRoot, quality: Int = 95, scenes: Bool = false,
                             limit: Int? = nil, progress: ((String, Int, Int) -> Void)? = nil) throws -> [String: Int] {
        let fm = FileManager.default
        var written: [String: Int] = [:]
        for (split, folder) in [(FashionMNIST.Split.train, "train"), (.test, "val")] {
            let ds = try FashionMNIST(root: dataRoot, split: split)
            let n = min(limit ?? ds.count, ds.count)
            for c in 0..<10 {
                try fm.createDirectory(atPath: "\(out)/\(folder)/\(folderName(c))", withIntermediateDirectories: true)
            }
            if scenes { try fm.createDirectory(atPath: "\(out)/\(folder)_labels", withIntermediateDirectories: true) }
            let source = FashionScenes(items: ds)
            for i in 0..<n {
                let name = String(format: "%05d", i)
                let data: Data
                if scenes {
                    let (image, labels) = source.scene(i)
                    data = try JPEG.encode(stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] },
                                           width: FashionScenes.canvas, height: FashionScenes.canvas, components: 1, quality: quality)
                    try place(try PNG.encodeGray(labels, width: FashionScenes.canvas, height: FashionScenes.canvas), at: "\(out)/\(folder)_labels/\(name).png")
                } else {
                    data = try JPEG.encode(Array(ds.pixels[(i * 784)..<((i + 1) * 784)]), width: 28, height: 28, components: 1, quality: quality)
                }
                try place(data, at: "\(out)/\(folder)/\(folderName(Int(ds.labels[i])))/\(name).jpg")
                if (i + 1) % 10000 == 0 || i + 1 == n { progress?(folder, i + 1, n) }
            }
            written[folder] = n
        }
        return written
    }

    /// Writes `data` to `path` through a temporary file and a rename.
    static func place(_ data: Data, at path: String) throws {
        let fm = FileManager.default
        guard fm.createFile(atPath: path + ".tmp", contents: data) else { throw DataError.missing("cannot write \(path)") }
        if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
        try fm.moveItem(atPath: path + ".tmp", toPath: path)
    }
}
