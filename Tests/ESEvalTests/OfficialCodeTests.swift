// The official EsViT code beside esvit (tools/official/run_official.py): its --selftest trains
// both arms for 3 iterations from a checkout of microsoft/esvit, and esvit reads the checkpoint
// it writes (main_esvit.py's layout, numpy.float64 lr and weight decay in the optimizer state)
// and evaluates its teacher. Needs torch and the checkout, which CI does not have: the test
// skips unless ESVIT_OFFICIAL_REPO (the checkout) and ESVIT_TORCH_PYTHON (a Python with the
// stack of tools/reference/requirements.txt) are set, and says so.
import ESModel
import ESTestSupport
import Foundation
import XCTest

final class OfficialCodeTests: XCTestCase {
    func testTheHarnessSelftestAndEsvitReadsItsCheckpoint() throws {
        let env = ProcessInfo.processInfo.environment
        guard let repo = env["ESVIT_OFFICIAL_REPO"], let python = env["ESVIT_TORCH_PYTHON"] else {
            throw XCTSkip("needs the official EsViT code and torch: ESVIT_OFFICIAL_REPO=DIR (a checkout of microsoft/esvit) "
                          + "ESVIT_TORCH_PYTHON=.venv/bin/python launch/test.sh (tools/official/README.md sets both up)")
        }
        let tmp = try TemporaryDirectory(prefix: "esvit-official")
        let (c, o) = try TestProcess.run(python, [TestProcess.root + "/tools/official/run_official.py", "--esvit-repo", repo, "--threads", "2",
                                                  "--selftest", "--output-dir", tmp.path("run")], timeout: 600)
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("selftest: ok"), o)
        for arm in ["region", "noregion"] {
            let file = tmp.path("run/\(arm)/checkpoint.pth")
            let ck = try TorchCheckpoint(path: file)
            XCTAssertTrue(ck.refs.contains { $0.name.hasPrefix("teacher.") } && ck.refs.contains { $0.name.hasPrefix("student.module.") }, arm)
            let (e, out) = try TestProcess.run(TestProcess.esvit, ["eval-knn", "--weights", file, "--arch", "swin_mini", "--patch-size", "4",
                                                                   "--train-limit", "200", "--test-limit", "50", "--threads", "1", "--no-baseline"])
            XCTAssertEqual(e, 0, out)
            XCTAssertTrue(out.contains("keys under 'teacher.', official names") && out.contains("k-NN (k = 20"), out)
        }
    }
}
