// `pretrain --region-start-fraction F`: the region loss switched on at iteration round(F · N) of
// an N-iteration run (the schedule and the printed plan say where), refused outside [0, 1) and
// without the region loss; a configuration written before the option existed decodes as "from
// the start".
@testable import ESTrain
import Foundation
import XCTest

final class RegionStartOptionsTests: XCTestCase {
    func config(_ args: [String]) throws -> PretrainConfig {
        try PretrainOptions.parse(args + ["--output-dir", "x", "--data-path", NSTemporaryDirectory()]).resolved()
    }

    func testTheSwitchIterationTheRefusalsAndOlderConfigurations() throws {
        let c = try config(["--iterations", "300", "--region-start-fraction", "0.667"])
        XCTAssertEqual(c.regionStartFraction, 0.667)
        let layout = try RunLayout(config: c, worldSize: 1, datasetCount: 60000)
        XCTAssertEqual(layout.regionStartIteration(c), 200)
        let s = layout.schedule(c)
        XCTAssertFalse(s.values(at: 199).regionLoss); XCTAssertTrue(s.values(at: 200).regionLoss)
        XCTAssertTrue(layout.schedule(try config(["--iterations", "300"])).values(at: 0).regionLoss, "default: from the start")
        for (args, message) in [(["--region-start-fraction", "1"], "must be in [0, 1)"),
                                (["--region-start-fraction", "0.5", "--use-dense-prediction", "false"], "needs the region loss")] {
            XCTAssertThrowsError(try config(args)) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as! [String: Any]
        XCTAssertNotNil(json.removeValue(forKey: "regionStartFraction"))
        XCTAssertNil(try JSONDecoder().decode(PretrainConfig.self, from: JSONSerialization.data(withJSONObject: json)).regionStartFraction)
    }
}
