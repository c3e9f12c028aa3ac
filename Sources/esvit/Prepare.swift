// `esvit prepare fashion-mnist`: Debian's Fashion-MNIST IDX files → a JPEG image folder.
import ArgumentParser
import ESData
import Foundation

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert datasets into the JPEG image-folder layout.",
        subcommands: [PrepareFashionMNIST.self])
}

struct PrepareFashionMNIST: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fashion-mnist",
        abstract: "Write Fashion-MNIST as JPEGs: OUT/train/<class>/NNNNN.jpg (60k) and OUT/val/<class>/NNNNN.jpg (10k).",
        discussion: """
        Class folders are named 0_t_shirt_top … 9_ankle_boot so that torchvision-style sorted \
        class indices equal the Fashion-MNIST labels. Images are 28×28 grayscale JPEGs.

        Example: esvit prepare fashion-mnist --out data/fmnist-jpeg
        """)

    @Option(help: "Output folder (created if needed).") var out: String
    @Option(help: "Folder with the Fashion-MNIST IDX files (gzip or plain).") var dataPath: String = FashionMNIST.defaultRoot
    @Option(help: "JPEG quality (1-100).") var quality: Int = 95
    @Option(help: "Only the first N images of each split (quick checks).") var limit: Int?

    func validate() throws {
        if !(1...100).contains(quality) { throw ValidationError("--quality must be within 1...100") }
        if let limit, limit < 1 { throw ValidationError("--limit must be ≥ 1") }
    }

    func run() throws {
        let start = Date()
        do {
            let n = try FashionMNISTExport.write(to: out, dataRoot: dataPath, quality: quality, limit: limit) { folder, done, total in
                let el = Date().timeIntervalSince(start)
                print(String(format: "prepare: %@ %d/%d (%.0f s)", folder, done, total, el))
            }
            print("prepare: wrote \(n["train"] ?? 0) train and \(n["val"] ?? 0) val images under \(out)")
        } catch { throw CLIError("\(error)") }
    }
}
