// `pretrain --init-from`: the options are recorded in the run configuration, checked before any
// work, and the configuration of a checkpoint written before they existed still decodes (its
// budget plan and recipe notes depend on it when a run resumes).
@testable import ESTrain
import Foundation
import XCTest

final class InitFromOptionsTests: XCTestCase {
    func config(_ args: [String]) throws -> PretrainConfig {
        try PretrainOptions.parse(args + ["--output-dir", "x", "--data-path", NSTemporaryDirectory()]).resolved()
    }

    func testRecordedCheckedAndOlderConfigurationsDecode() throws {
        let weights = NSTemporaryDirectory() + "/init-from-\(UUID().uuidString).safetensors"
        FileManager.default.createFile(atPath: weights, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: weights) }
        let c = try config(["--init-from", weights, "--init-which", "student", "--init-prefix", "model."])
        XCTAssertEqual(c.initFrom, weights); XCTAssertEqual(c.initWhich, "student"); XCTAssertEqual(c.initPrefix, "model.")
        XCTAssertThrowsError(try config(["--init-from", weights, "--init-which", "ema"])) {
            XCTAssertTrue(PretrainOptions.message(for: $0).contains("--init-which takes teacher or student"), PretrainOptions.message(for: $0))
        }
        XCTAssertThrowsError(try config(["--init-which", "student"])) {
            XCTAssertTrue(PretrainOptions.message(for: $0).contains("need --init-from FILE"), PretrainOptions.message(for: $0))
        }
        XCTAssertThrowsError(try config(["--init-from", weights + ".missing"])) {
            XCTAssertTrue(PretrainOptions.message(for: $0).contains("does not exist"), PretrainOptions.message(for: $0))
        }
        // A configuration as a checkpoint from before --init-from stored it: without the three keys.
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as! [String: Any]
        for k in ["initFrom", "initWhich", "initPrefix"] { XCTAssertNotNil(json.removeValue(forKey: k), k) }
        let old = try JSONDecoder().decode(PretrainConfig.self, from: JSONSerialization.data(withJSONObject: json))
        var expected = c
        expected.initFrom = nil; expected.initWhich = nil; expected.initPrefix = nil
        XCTAssertEqual(old, expected)
    }
}
