// RandomResizedCrop geometry against torchvision for the same random draws: 700 cases
// (7 image shapes × 4 scale ranges × 25 seeds, 224 of them centre-crop fallbacks) recorded by
// tools/reference/make_crop_fixtures.py. Also: keyed draws are deterministic and in range.
import XCTest
import Foundation
import ESData
import ESKernels

private struct Replay: CropRandomSource {
    var floats: [Float], ints: [Int]
    /// Set when the code asks for more draws than torchvision made, or for a range that does not
    /// contain the recorded offset (the test fails instead of crashing).
    var misuse = false
    mutating func uniform32(_ lo: Float, _ hi: Float) -> Float {
        if floats.isEmpty { misuse = true; return lo }
        return floats.removeFirst()
    }
    mutating func randint(_ lo: Int, _ hiExclusive: Int) -> Int {
        if ints.isEmpty { misuse = true; return lo }
        let v = ints.removeFirst()
        if v < lo || v >= hiExclusive { misuse = true; return lo }
        return v
    }
}

final class CropGeometryTests: XCTestCase {
    struct Case: Decodable { let height: Int, width: Int, scale: [Double], draws: [[Double]], offsets: [Int], expected: [Int] }
    struct File: Decodable { let ratio: [Double], cases: [Case] }

    func testMatchesTorchvisionForTheSameDraws() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("crops.json")
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        XCTAssertEqual(file.cases.count, 700)
        var mismatches = 0
        for c in file.cases {
            var src = Replay(floats: c.draws.flatMap { $0.map { Float($0) } }, ints: c.offsets)
            let box = RandomResizedCrop.box(height: c.height, width: c.width, scale: (c.scale[0], c.scale[1]),
                                            ratio: (file.ratio[0], file.ratio[1]), rng: &src)
            let got = [box.top, box.left, box.height, box.width]
            if got != c.expected || src.misuse {
                mismatches += 1
                if mismatches <= 5 { XCTFail("\(c.height)×\(c.width) scale \(c.scale): got \(got), torchvision \(c.expected)") }
            }
            XCTAssertTrue(src.floats.isEmpty && src.ints.isEmpty && !src.misuse, "consumed exactly torchvision's draws")
        }
        XCTAssertEqual(mismatches, 0)
    }

    func testKeyedDrawsAreDeterministicAndInRange() {
        for s in 0..<200 {
            var a = KeyedRandom(1, UInt64(s)), b = KeyedRandom(1, UInt64(s))
            let x = RandomResizedCrop.box(height: 28, width: 28, scale: (0.05, 0.4), rng: &a)
            XCTAssertEqual(x, RandomResizedCrop.box(height: 28, width: 28, scale: (0.05, 0.4), rng: &b))
            XCTAssertTrue(x.top >= 0 && x.left >= 0 && x.height > 0 && x.width > 0 && x.top + x.height <= 28 && x.left + x.width <= 28)
        }
    }
}
