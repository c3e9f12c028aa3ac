// Training curves: log.txt lines become one SVG panel per series with one polyline point per
// logged value (k-NN only when periodic evaluation ran); a log without metrics is refused.
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
        XCTAssertThrowsError(try Curves(logText: "not json\n{\"epoch\":1}")) { XCTAssertTrue("\($0)".contains("no training metrics"), "\($0)") }
    }
}
