// JPEG decoding against PIL (same libjpeg family: RGB and gray must be identical, CMYK within
// ±1 for rounding), DCT-domain downscaling, encode/decode round trip, the bad-file corpus
// (each rejected with its reason, never a crash), and the ImageFolder layout rules.
import XCTest
import Foundation
import ESData
import ESTestSupport

final class JPEGTests: XCTestCase {
    var corpus: URL!
    override func setUpWithError() throws {
        corpus = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("jpeg")
    }
    func file(_ n: String) -> String { corpus.appendingPathComponent(n).path }

    func expected(_ n: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: file(n + ".rgb")))) }

    func testGoodFilesMatchPIL() throws {
        for (name, w, h, tol) in [("good_rgb.jpg", 40, 30, 0), ("gray.jpg", 24, 20, 0), ("cmyk.jpg", 16, 16, 1)] {
            let (img, denom) = try JPEG.decode(file: file(name))
            XCTAssertEqual(denom, 1); XCTAssertEqual(img.width, w); XCTAssertEqual(img.height, h)
            let want = try expected(name)
            XCTAssertEqual(img.pixels.count, want.count)
            let worst = zip(img.pixels, want).map { abs(Int($0) - Int($1)) }.max() ?? 99
            XCTAssertLessThanOrEqual(worst, tol, "\(name): max difference to PIL \(worst)")
        }
    }

    func testDCTDownscalingKeepsTheShortSide() throws {
        for (minShort, denom, w, h) in [(0, 1, 200, 160), (100, 1, 200, 160), (80, 2, 100, 80), (40, 4, 50, 40), (20, 8, 25, 20), (1, 8, 25, 20)] {
            let (img, d) = try JPEG.decode(file: file("big.jpg"), minShortSide: minShort)
            XCTAssertEqual(d, denom, "minShortSide \(minShort)"); XCTAssertEqual(img.width, w); XCTAssertEqual(img.height, h)
        }
    }

    func testEncodeDecodeRoundTrip() throws {
        var px = [UInt8](repeating: 0, count: 28 * 28)
        for k in 0..<px.count { px[k] = UInt8((k * 37) % 256 / 2 + 40) }
        let data = try JPEG.encode(px, width: 28, height: 28, components: 1, quality: 100)
        let (img, _) = try JPEG.decode([UInt8](data))
        XCTAssertEqual(img.width, 28)
        var worst = 0, grayRGB = true
        for k in 0..<px.count {
            let r = Int(img.pixels[3 * k]), g = Int(img.pixels[3 * k + 1]), b = Int(img.pixels[3 * k + 2])
            worst = max(worst, abs(r - Int(px[k])))
            if r != g || r != b { grayRGB = false }
        }
        XCTAssertLessThanOrEqual(worst, 8, "quality-100 gray round trip")
        XCTAssertTrue(grayRGB, "grayscale decodes to equal R, G, B")
    }

    func testBadFilesAreRejectedWithTheirReason() {
        let cases = [("truncated.jpg", "truncated or corrupt"), ("corrupt_header.jpg", "precision"), ("png_named.jpg", "Not a JPEG"),
                     ("text.jpeg", "Not a JPEG"), ("empty.jpg", "empty"), ("huge.jpg", "exceeds the 89478485-pixel limit")]
        for (name, reason) in cases {
            XCTAssertThrowsError(try JPEG.decode(file: file(name)), name) { e in
                XCTAssertTrue("\(e)".localizedCaseInsensitiveContains(reason), "\(name): '\(e)' lacks '\(reason)'")
            }
        }
        XCTAssertThrowsError(try JPEG.decode(file: file("does-not-exist.jpg"))) { e in XCTAssertTrue("\(e)".contains("cannot read")) }
    }

    func testImageFolderLayout() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-folder")
        let fm = FileManager.default
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: file("good_rgb.jpg")))
        for (dir, files) in [("b_dogs", ["z.jpg", "a.JPEG", "nested/c.Jpg", "skip.png"]), ("a_cats", ["x.jpeg"]), (".hidden", ["h.jpg"])] {
            for f in files {
                let p = tmp.path(dir + "/" + f)
                try fm.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                _ = fm.createFile(atPath: p, contents: jpeg)
            }
        }
        _ = fm.createFile(atPath: tmp.path("stray.jpg"), contents: jpeg)
        let ds = try ImageFolder(root: tmp.url.path)
        XCTAssertEqual(ds.classNames, ["a_cats", "b_dogs"])
        XCTAssertEqual(ds.paths.map { String($0.dropFirst(tmp.url.path.count + 1)) },
                       ["a_cats/x.jpeg", "b_dogs/a.JPEG", "b_dogs/nested/c.Jpg", "b_dogs/z.jpg"])
        XCTAssertEqual((0..<ds.count).map(ds.label), [0, 1, 1, 1])
        XCTAssertEqual(try ds.load(1, minShortSide: 0).width, 40)
        XCTAssertThrowsError(try ImageFolder(root: tmp.path("nope"))) { XCTAssertTrue("\($0)".contains("does not exist")) }
        let empty = try TemporaryDirectory(prefix: "esvit-empty")
        XCTAssertThrowsError(try ImageFolder(root: empty.url.path)) { XCTAssertTrue("\($0)".contains("no class folders")) }
        try fm.createDirectory(atPath: empty.path("cls"), withIntermediateDirectories: true)
        _ = fm.createFile(atPath: empty.path("cls/readme.txt"), contents: Data("x".utf8))
        XCTAssertThrowsError(try ImageFolder(root: empty.url.path)) { XCTAssertTrue("\($0)".contains("no .jpg/.jpeg files")) }
        // A folder whose only images are all unusable: a clear error before training.
        for name in ["truncated.jpg", "text.jpeg", "empty.jpg"] {
            try fm.copyItem(atPath: file(name), toPath: empty.path("cls/" + name))
        }
        let unusable = try ImageFolder(root: empty.url.path)
        XCTAssertThrowsError(try unusable.checkUsable()) { XCTAssertTrue("\($0)".contains("none of the 3 images tried could be decoded"), "\($0)") }
        XCTAssertEqual(try ds.checkUsable(), 0)
    }
}
