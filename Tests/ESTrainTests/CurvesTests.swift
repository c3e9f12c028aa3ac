// Training curves: log.txt lines become one SVG panel per series with one polyline point per
// logged value (k-NN only when periodic evaluation ran); a log without metrics is refused.
import CZlib
import ESData
import ESTrain
import Foundation
import XCTest

final class CurvesTests: XCTestCase {
    func testPanelsAndPointsFollowTheLog() throws {
        var lines = (1...7).map { i in "{\"iteration\":\(i * 10),\"loss\":\(8 - Double(i) * 0.1),\"loss_view\":8,\"loss_region\":7,\"lr\":0.001,\"teacher_temp\":0.04}" }
        lines.insert("{\"epoch\":0,\"train_loss\":7.5}", at: 3)         // DINO's epoch line: no iteration, ignored
        var c = try Curves(logText: lines.joined(separator: "\n"))
        XCTAssertEqual(c.series.map(\.name), ["loss", "L_V (view)", "L_R (region)", "learning rate", "teacher temperature"])
        XCTAssertEqual(c.series[0].points.count, 7)
        XCTAssertEqual(c.series[0].points.last!.y, 7.3, accuracy: 1e-12)
        var svg = c.svg(title: "t")
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 5)
        XCTAssertTrue(svg.contains("loss: 7.9 → 7.3"), svg)
        lines.append("{\"iteration\":0,\"knn_top1\":70.5}")
        lines.append("{\"iteration\":70,\"knn_top1\":74.25}")
        c = try Curves(logText: lines.joined(separator: "\n"))
        XCTAssertEqual(c.series.last!.name, "k-NN top-1 (%)")
        XCTAssertEqual(c.series.last!.points.map(\.y), [70.5, 74.25])
        svg = c.svg(title: "t")
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 6)
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        XCTAssertEqual(svg.components(separatedBy: "<g ").count, svg.components(separatedBy: "</g>").count, "balanced groups")
        // PNG: signature, IHDR with the raster's size, and IDAT inflating to filter-0 rows of exactly its pixels.
        let image = c.raster(width: 400, panelHeight: 60)
        XCTAssertEqual(image.width, 400)
        XCTAssertTrue(image.pixels.contains(119), "the curve colour is drawn")
        let png = [UInt8](try PNG.encode(image))
        XCTAssertEqual(Array(png[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func be32(_ o: Int) -> Int { png[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(String(decoding: png[12..<16], as: UTF8.self), "IHDR")
        XCTAssertEqual(be32(16), 400)
        XCTAssertEqual(be32(20), image.height)
        let idat = 8 + 12 + 13
        XCTAssertEqual(String(decoding: png[(idat + 4)..<(idat + 8)], as: UTF8.self), "IDAT")
        let n = be32(idat)
        var raw = [UInt8](repeating: 0, count: image.height * (3 * 400 + 1))
        var size = uLong(raw.count)
        let body = Array(png[(idat + 8)..<(idat + 8 + n)])
        XCTAssertEqual(uncompress(&raw, &size, body, uLong(n)), Z_OK)
        XCTAssertEqual(Int(size), raw.count)
        for y in [0, image.height / 2, image.height - 1] {
            XCTAssertEqual(raw[y * 1201], 0)
            XCTAssertEqual(Array(raw[(y * 1201 + 1)..<((y + 1) * 1201)]), Array(image.pixels[(y * 1200)..<((y + 1) * 1200)]))
        }
        XCTAssertEqual(String(decoding: png.suffix(8).prefix(4), as: UTF8.self), "IEND")
        XCTAssertThrowsError(try Curves(logText: "not json\n{\"epoch\":1}")) { XCTAssertTrue("\($0)".contains("no training metrics"), "\($0)") }
    }
}
