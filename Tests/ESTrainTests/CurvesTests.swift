// Training curves: log.txt lines become panels per quantity group with one polyline point per
// logged value, ticks at round values, grid and legend (evaluations as marked points, only when
// periodic evaluation ran); the axis rule on its own; a log without metrics is refused.
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
        XCTAssertEqual(c.panels.map(\.title), ["Loss", "Learning rate", "Teacher temperature"])
        XCTAssertEqual(c.panels[0].series.map(\.name), ["total", "L_V (view)", "L_R (region)"])
        XCTAssertEqual(c.series[0].points.count, 7)
        XCTAssertEqual(c.series[0].points.last!.y, 7.3, accuracy: 1e-12)
        var svg = c.svg(title: "t")
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 5)
        XCTAssertTrue(svg.contains("total: 7.9 → 7.3"), svg)
        XCTAssertEqual(svg.components(separatedBy: ">iteration</text>").count - 1, 3, "an x label per panel")
        XCTAssertEqual(svg.components(separatedBy: "class=\"marker\"").count - 1, 0, "training curves have no markers")
        lines.append("{\"iteration\":0,\"knn_top1\":70.5}")
        lines.append("{\"iteration\":70,\"knn_top1\":74.25,\"corr_acc\":31}")
        c = try Curves(logText: lines.joined(separator: "\n"))
        XCTAssertEqual(c.panels.last!.title, "Evaluation of the teacher")
        XCTAssertEqual(c.panels.last!.series.map(\.name), ["k-NN top-1", "correspondence accuracy"])
        XCTAssertEqual(c.panels.last!.series[0].points.map(\.y), [70.5, 74.25])
        svg = c.svg(title: "t")
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 7)
        XCTAssertEqual(svg.components(separatedBy: "class=\"marker\"").count - 1, 3, "each evaluation is a marked point")
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        XCTAssertEqual(svg.components(separatedBy: "<g ").count, svg.components(separatedBy: "</g>").count, "balanced groups")
        // Ticks: the shared x axis 0…70 (the iterations run) at 0, 20, 40, 60, labelled in every panel.
        XCTAssertFalse(svg.contains("text-anchor=\"middle\">80</text>"), "the x axis ends at the last iteration")
        for t in ["0", "20", "40", "60"] {
            XCTAssertEqual(svg.components(separatedBy: "text-anchor=\"middle\">\(t)</text>").count - 1, 4, "x tick \(t)")
        }
        // The loss panel spans 7 (L_R) to 8 (L_V): ticks 7.0, 7.5, 8.0.
        for t in ["7.0", "7.5", "8.0"] { XCTAssertTrue(svg.contains("text-anchor=\"end\">\(t)</text>"), "y tick \(t)") }
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
        // A resumed run's log holds iterations twice: the later value counts, the curve runs forward.
        let resumed = try Curves(logText: ["{\"iteration\":1,\"loss\":5}", "{\"iteration\":2,\"loss\":4}", "{\"iteration\":3,\"loss\":3}",
                                           "{\"iteration\":2,\"loss\":4.5}", "{\"iteration\":3,\"loss\":3.5}"].joined(separator: "\n"))
        XCTAssertEqual(resumed.series[0].points.map(\.x), [1, 2, 3])
        XCTAssertEqual(resumed.series[0].points.map(\.y), [5, 4.5, 3.5])
        XCTAssertThrowsError(try Curves(logText: "not json\n{\"epoch\":1}")) { XCTAssertTrue("\($0)".contains("no training metrics"), "\($0)") }
    }

    /// Ticks every 1, 2 or 5 × 10^k cover the data, with labels as precise as the step.
    func testAxesHaveRoundTicksThatCoverTheData() {
        for (a, b) in [(0.0, 4201.0), (7.31, 8.03), (0.0, 5e-4), (0.04, 0.04), (-3.2, 12.0), (70.5, 74.25), (1e6, 3e7),
                       (8.3172, 8.3179), (4.70e-4, 4.80e-4), (1e-8, 3e-8), (0.00999, 0.0101), (-2e-5, 1e-5), (1234567.0, 1234569.0)] {
            let ax = Curves.Axis(a, b)
            XCTAssertLessThanOrEqual(ax.lo, a); XCTAssertGreaterThanOrEqual(ax.hi, b)
            XCTAssertTrue((2...12).contains(ax.ticks.count), "\(a)…\(b): \(ax.ticks)")
            let mantissa = ax.step / pow(10, log10(ax.step).rounded(.down))
            XCTAssertTrue([1.0, 2, 5].contains { abs($0 - mantissa) < 1e-9 }, "step \(ax.step)")
            XCTAssertEqual(Set(ax.ticks.map(ax.label)).count, ax.ticks.count, "distinct labels: \(ax.ticks.map(ax.label))")
        }
        XCTAssertEqual(Curves.Axis(0, 4201, count: 6).ticks.map(Curves.Axis(0, 4201, count: 6).label), ["0", "1000", "2000", "3000", "4000", "5000"])
        let x = Curves.Axis(0, 4201, count: 6, tight: true)
        XCTAssertEqual([x.lo, x.hi], [0, 4201])
        XCTAssertEqual(x.ticks, [0, 1000, 2000, 3000, 4000])
        let tail = Curves.Axis(4.70e-4, 4.80e-4)
        XCTAssertEqual(tail.ticks.map(tail.label), ["4.70e-4", "4.75e-4", "4.80e-4"])
        let flat = Curves.Axis(8.3172, 8.3179)
        XCTAssertEqual(flat.label(flat.ticks[1]), "8.3174")
        let lr = Curves.Axis(0, 5e-4)
        XCTAssertEqual(lr.ticks.map(lr.label), ["0", "2e-4", "4e-4", "6e-4"])
        let t = Curves.Axis(0.04, 0.04)
        XCTAssertTrue(t.lo < 0.04 && t.hi > 0.04, "a constant series gets a range around it")
    }
}
