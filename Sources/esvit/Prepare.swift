// `esvit prepare fashion-mnist|fashion-scenes`: Debian's Fashion-MNIST IDX files → a JPEG image
// folder (and, for the scenes, PNG label maps), for the JPEG pipeline and for other tools.
import ArgumentParser
import ESData
import Foundation

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert datasets into the JPEG image-folder layout.",
        subcommands: [PrepareFashionMNIST.self, PrepareFashionScenes.self])
}

/// What both conversions take.
struct PrepareOptions: ParsableArguments {
    @Option(help: "Output folder (created if needed).") var out: String
    @Option(help: "Folder with the Fashion-MNIST IDX files (gzip or plain).") var dataPath: String = FashionMNIST.defaultRoot
    @Option(help: "JPEG quality (1-100).") var quality: Int = 95
    @Option(help: "Only the first N images of each split (quick checks).") var limit: Int?

    func validate() throws {
        if !(1...100).contains(quality) { throw ValidationError("--quality must be within 1...100") }
        if let limit, limit < 1 { throw ValidationError("--limit must be ≥ 1") }
    }

    func run(scenes: Bool) throws {
        let start = Date()
        do {
            let n = try FashionMNISTExport.write(to: out, dataRoot: dataPath, quality: quality, scenes: scenes, limit: limit) { folder, done, total in
                print(String(format: "prepare: %@ %d/%d (%.0f s)", folder, done, total, Date().timeIntervalSince(start)))
            }
            print("prepare: wrote \(n["train"] ?? 0) train and \(n["val"] ?? 0) val \(scenes ? "scenes (and label maps)" : "images") under \(out)")
        } catch { throw CLIError("\(error)") }
    }
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

    @OptionGroup var options: PrepareOptions
    func run() throws { try options.run(scenes: false) }
}

struct PrepareFashionScenes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fashion-scenes",
        abstract: "Write the Fashion-MNIST scenes (--dataset fashion-scenes) as JPEGs with PNG label maps.",
        discussion: """
        Scene i of a split (64×64, 2–4 items scaled 0.75–1.5×, from that split's images; the same \
        scenes pretrain and eval-dense read) goes to OUT/train/<class of its first item>/NNNNN.jpg \
        (60k) or OUT/val/…/NNNNN.jpg (10k), grayscale, and its label map to \
        OUT/train_labels/NNNNN.png or OUT/val_labels/NNNNN.png: 8-bit gray, 0 = background, \
        1 + the Fashion-MNIST class of the item on top (classes 1…10).

        Example: esvit prepare fashion-scenes --out data/fashion-scenes
        """)

    @OptionGroup var options: PrepareOptions
    func run() throws { try options.run(scenes: true) }
}
