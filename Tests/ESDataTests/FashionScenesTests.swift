// Fashion-MNIST scenes: deterministic from (seed, split, index); items of the scene's own split,
// inside the canvas, at the documented scales; the label map agrees with the pixels (a pixel is
// labelled iff it is lit, with the class of an item placed there, and the last item painted keeps
// every foreground pixel of its own); single items sit unscaled at the centre; the dataset kind
// wires both; `prepare fashion-scenes` writes readable JPEGs and gray PNG label maps.
import ESData
import ESTestSupport
import Foundation
import XCTest

final class FashionScenesTests: XCTestCase {
    func testScenesAreDeterministicAndLabelled() throws {
        let train = FashionScenes(items: try FashionMNIST(split: .train)), test = FashionScenes(items: try FashionMNIST(split: .test))
        let side = FashionScenes.canvas
        var counts = Set<Int>(), sizes = Set<Int>()
        for i in [0, 1, 7, 12345, 59999] {
            let placed = train.placements(i)
            XCTAssertEqual(placed, train.placements(i))
            XCTAssertNotEqual(placed, FashionScenes(items: train.items, seed: 1).placements(i), "another seed, other scenes")
            XCTAssertEqual(placed[0].index, i, "scene i leads with image i")
            counts.insert(placed.count)
            for p in placed {
                sizes.insert(p.size)
                XCTAssertTrue((21...42).contains(p.size) && p.x >= 0 && p.y >= 0 && p.x + p.size <= side && p.y + p.size <= side, "\(p)")
            }
            let (image, labels) = train.scene(i)
            XCTAssertEqual(image.width, side); XCTAssertEqual(labels.count, side * side)
            let classes = Set(placed.map { UInt8(1 + train.items.label($0.index)) })
            for k in 0..<(side * side) {
                let v = image.pixels[3 * k]
                XCTAssertEqual(v >= FashionScenes.foreground, labels[k] != 0, "pixel \(k) of scene \(i)")
                if labels[k] != 0 { XCTAssertTrue(classes.contains(labels[k])) }
                let inside = placed.contains { k % side >= $0.x && k % side < $0.x + $0.size && k / side >= $0.y && k / side < $0.y + $0.size }
                if !inside { XCTAssertEqual(v, 0) }
            }
            // The last item painted keeps every one of its foreground pixels, with its class.
            let top = placed.last!
            let item = try train.items.load(top.index, minShortSide: 0)
            let scaled = ImageOps.cropResize(item, box: CropBox(top: 0, left: 0, height: 28, width: 28), outWidth: top.size, outHeight: top.size)
            for y in 0..<top.size { for x in 0..<top.size where scaled.pixels[3 * (y * top.size + x)] >= FashionScenes.foreground {
                XCTAssertEqual(labels[(top.y + y) * side + top.x + x], UInt8(1 + train.items.label(top.index)))
            } }
        }
        XCTAssertTrue(counts.isSubset(of: [2, 3, 4]) && counts.count > 1, "\(counts)")
        XCTAssertGreaterThan(sizes.count, 5)
        // Test scenes draw from the test images only, with other layouts than train scene i.
        XCTAssertNotEqual(test.placements(3), train.placements(3))
        XCTAssertTrue(test.placements(9999).allSatisfy { $0.index < 10000 })
        XCTAssertEqual(test.label(5), test.items.label(5))
    }

    func testSingleItemsAndTheDatasetKind() throws {
        let fm = try FashionMNIST(split: .test)
        let items = FashionItems(items: fm)
        let img = try items.load(4, minShortSide: 0), at = (FashionScenes.canvas - 28) / 2
        for y in 0..<FashionScenes.canvas { for x in 0..<FashionScenes.canvas {
            let inside = (at..<(at + 28)).contains(x) && (at..<(at + 28)).contains(y)
            let src = inside ? fm.pixels[4 * 784 + (y - at) * 28 + x - at] : 0
            XCTAssertEqual(img.pixels[3 * (y * FashionScenes.canvas + x)], src >= FashionScenes.foreground ? src : 0)
        } }
        XCTAssertTrue(try DatasetKind.fashionScenes.trainingImages(at: FashionMNIST.defaultRoot) is FashionScenes)
        let (tr, te) = try DatasetKind.fashionScenes.labelledSplits(at: FashionMNIST.defaultRoot)
        XCTAssertTrue(tr is FashionItems && te is FashionItems)
        XCTAssertEqual(te.count, 10000)
        XCTAssertEqual(DatasetKind(rawValue: "fashion-scenes"), .fashionScenes)
    }

    func testPrepareWritesScenesAndLabelMaps() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-prep-scenes")
        XCTAssertEqual(try FashionMNISTExport.write(to: tmp.url.path, scenes: true, limit: 5), ["train": 5, "val": 5])
        let folder = try ImageFolder(root: tmp.path("train"))
        XCTAssertEqual(folder.count, 5)
        let scenes = FashionScenes(items: try FashionMNIST(split: .train))
        for k in 0..<folder.count {
            let i = Int(String(folder.paths[k].split(separator: "/").last!.prefix(5)))!
            XCTAssertEqual(folder.label(k), scenes.label(i))
            XCTAssertEqual(try folder.load(k, minShortSide: 0).width, FashionScenes.canvas)
            let png = try Data(contentsOf: URL(fileURLWithPath: tmp.path(String(format: "train_labels/%05d.png", i))))
            XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            XCTAssertEqual(Array(png[16..<26]), [0, 0, 0, 64, 0, 0, 0, 64, 8, 0], "IHDR: 64×64, 8-bit gray")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: tmp.path("val_labels/00004.png")))
    }
}
