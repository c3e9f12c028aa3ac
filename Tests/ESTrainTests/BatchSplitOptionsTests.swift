// `pretrain --batch-split`: on by default (each compute thread of a rank takes whole parts of the
// batch through the backbone), off with `false`, recorded in the run configuration; a
// configuration written before the option existed still decodes and reads as on.
@testable import ESTrain
import Foundation
import XCTest

final class BatchSplitOptionsTests: XCTestCase {
    func config(_ args: [String]) throws -> PretrainConfig {
        try PretrainOptions.parse(args + ["--output-dir", "x", "--data-path", NSTemporaryDirectory()]).resolved()
    }

    func testDefaultOnOffAndOlderConfigurations() throws {
        let standard = try config(["--threads", "2"])
        XCTAssertNil(standard.batchSplit)
        XCTAssertTrue(standard.splitsBatch, "the batch split is the default")
        let off = try config(["--threads", "2", "--batch-split", "false"])
        XCTAssertEqual(off.batchSplit, false)
        XCTAssertFalse(off.splitsBatch)
        XCTAssertTrue(try config(["--batch-split", "true"]).splitsBatch)
        XCTAssertThrowsError(try config(["--batch-split", "maybe"]), "a value other than true/false is refused")
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(off)) as! [String: Any]
        XCTAssertNotNil(json.removeValue(forKey: "batchSplit"))
        let old = try JSONDecoder().decode(PretrainConfig.self, from: JSONSerialization.data(withJSONObject: json))
        XCTAssertNil(old.batchSplit)
        XCTAssertTrue(old.splitsBatch)
    }
}
