// DINO's pixel operations against PIL/torchvision (tools/reference/make_imageops_fixtures.py):
// every case reports its max absolute difference and count of differing values; the allowed
// difference per op is the documented tolerance (see docs/tolerances.md §8).
import XCTest
import Foundation
import ESData

final class ImageOpsTests: XCTestCase {
    struct Img: Decodable { let height: Int, width: Int, pixels: String }
    struct Case: Decodable { let op: String, input: String, params: [Double], height: Int, width: Int, output: String }
    struct File: Decodable { let inputs: [String: Img], cases: [Case] }

    /// Tolerance (max |Δ| in 8-bit levels) per op: all measured bit-exact against Pillow 13 / torchvision 0.29.
    static let tolerance: [String: Int] = ["resized_crop": 0, "brightness": 0, "contrast": 0, "saturation": 0,
                                           "hue": 0, "grayscale": 0, "blur": 0, "solarize": 0]

    func testMatchesPIL() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("imageops.json")
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        func image(_ i: Img) -> RGBImage { RGBImage(width: i.width, height: i.height, pixels: [UInt8](Data(base64Encoded: i.pixels)!)) }
        var report: [String] = []
        for c in file.cases {
            var img = image(file.inputs[c.input]!)
            let p = c.params
            switch c.op {
            case "resized_crop":
                img = ImageOps.cropResize(img, box: CropBox(top: Int(p[0]), left: Int(p[1]), height: Int(p[2]), width: Int(p[3])),
                                          outWidth: Int(p[4]), outHeight: Int(p[4]))
            case "brightness": ImageOps.adjustBrightness(&img, Float(p[0]))
            case "contrast": ImageOps.adjustContrast(&img, Float(p[0]))
            case "saturation": ImageOps.adjustSaturation(&img, Float(p[0]))
            case "hue": ImageOps.adjustHue(&img, Float(p[0]))
            case "grayscale": ImageOps.grayscale(&img)
            case "blur": ImageOps.gaussianBlur(&img, radius: Float(p[0]))
            case "solarize": ImageOps.solarize(&img)
            default: XCTFail("unknown op \(c.op)")
            }
            let want = [UInt8](Data(base64Encoded: c.output)!)
            XCTAssertEqual(img.width, c.width); XCTAssertEqual(img.height, c.height)
            guard img.pixels.count == want.count else { XCTFail("\(c.op) \(p): size"); continue }
            var worst = 0, differ = 0
            for (a, b) in zip(img.pixels, want) { let d = abs(Int(a) - Int(b)); worst = max(worst, d); if d > 0 { differ += 1 } }
            report.append("\(c.op)\(p): max|Δ| \(worst), \(differ)/\(want.count) differ")
            XCTAssertLessThanOrEqual(worst, ImageOpsTests.tolerance[c.op] ?? 0, "\(c.op) \(p): max |Δ| \(worst), \(differ) values differ")
        }
        print(report.joined(separator: "\n"))
    }
}

/// Crop + resize with Pillow's BILINEAR filter (the linear probe's RandomResizedCrop views)
/// against torchvision's resized_crop (tools/reference/make_bilinear_fixtures.py): bit-exact.
final class BilinearResizeTests: XCTestCase {
    struct Case: Decodable { let box: [Int], size: Int, output: String }
    struct File: Decodable { let height: Int, width: Int, input: String, cases: [Case] }

    func testMatchesPIL() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("bilinear.json")
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        let img = RGBImage(width: file.width, height: file.height, pixels: [UInt8](Data(base64Encoded: file.input)!))
        XCTAssertEqual(file.cases.count, 5)
        for c in file.cases {
            let b = c.box
            let out = ImageOps.cropResize(img, box: CropBox(top: b[0], left: b[1], height: b[2], width: b[3]), outWidth: c.size, outHeight: c.size,
                                          filter: .bilinear)
            let want = [UInt8](Data(base64Encoded: c.output)!)
            let diff = zip(out.pixels, want).map { abs(Int($0) - Int($1)) }
            XCTAssertEqual(diff.max(), 0, "box \(b) → \(c.size): \(diff.filter { $0 > 0 }.count) values differ")
        }
    }
}
