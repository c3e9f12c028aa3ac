// `prepare fashion-mnist` round trip: the written JPEG folder reads back through ImageFolder
// with the same labels and (JPEG q95) nearly the same pixels as the IDX source.
import XCTest
import ESData
import ESTestSupport

final class PrepareTests: XCTestCase {
    func testFashionMNISTJPEGFolderRoundTrip() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-prep")
        let n = try FashionMNISTExport.write(to: tmp.url.path, limit: 40)
        XCTAssertEqual(n, ["train": 40, "val": 40])
        let src = try FashionMNIST(split: .train)
        let folder = try ImageFolder(root: tmp.path("train"))
        XCTAssertEqual(folder.classNames.count, 10)
        XCTAssertEqual(folder.classNames[9], "9_ankle_boot")
        XCTAssertEqual(folder.count, 40)
        var worst = 0
        for k in 0..<folder.count {
            let i = Int(String(folder.paths[k].split(separator: "/").last!.prefix(5)))!
            XCTAssertEqual(folder.label(k), Int(src.labels[i]), "label of image \(i)")
            let img = try folder.load(k, minShortSide: 0)
            XCTAssertEqual(img.width, 28)
            for p in 0..<784 { worst = max(worst, abs(Int(img.pixels[3 * p]) - Int(src.pixels[i * 784 + p]))) }
        }
        print("prepare round trip: max pixel error \(worst)")
        XCTAssertLessThanOrEqual(worst, 16, "JPEG q95 on 28×28 gray: max pixel error \(worst) (10 measured)")
        XCTAssertEqual(try ImageFolder(root: tmp.path("val")).count, 40)
    }
}
