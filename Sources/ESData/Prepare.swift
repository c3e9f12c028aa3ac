// Writes Fashion-MNIST as a JPEG image folder (train/ and val/, one sub-folder per class named
// so that sorted order equals label order), so the JPEG pipeline runs on 70k real images.
// Files are written atomically enough for a dataset: each JPEG is complete before its rename.
import Foundation

public enum FashionMNISTExport {
    /// "0_t_shirt_top", "1_trouser", …: sorting the names gives label order.
    public static func folderName(_ label: Int) -> String {
        let raw = FashionMNIST.classNames[label].lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
        return "\(label)_" + String(raw)
    }

    /// Writes `limit` images per split (all when nil). Returns the number of files written per split.
    @discardableResult
    public static func write(to out: String, dataRoot: String = FashionMNIST.defaultRoot, quality: Int = 95,
                             limit: Int? = nil, progress: ((String, Int, Int) -> Void)? = nil) throws -> [String: Int] {
        let fm = FileManager.default
        var written: [String: Int] = [:]
        for (split, folder) in [(FashionMNIST.Split.train, "train"), (.test, "val")] {
            let ds = try FashionMNIST(root: dataRoot, split: split)
            let n = min(limit ?? ds.count, ds.count)
            for c in 0..<10 {
                try fm.createDirectory(atPath: "\(out)/\(folder)/\(folderName(c))", withIntermediateDirectories: true)
            }
            for i in 0..<n {
                let px = Array(ds.pixels[(i * 784)..<((i + 1) * 784)])
                let data = try JPEG.encode(px, width: 28, height: 28, components: 1, quality: quality)
                let path = "\(out)/\(folder)/\(folderName(Int(ds.labels[i])))/\(String(format: "%05d", i)).jpg"
                guard fm.createFile(atPath: path + ".tmp", contents: data) else { throw DataError.missing("cannot write \(path)") }
                if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
                try fm.moveItem(atPath: path + ".tmp", toPath: path)
                if (i + 1) % 10000 == 0 || i + 1 == n { progress?(folder, i + 1, n) }
            }
            written[folder] = n
        }
        return written
    }
}
