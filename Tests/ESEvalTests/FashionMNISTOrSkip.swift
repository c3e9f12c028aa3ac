// Loading Fashion-MNIST in the evaluation tests: a skip only when the Debian package's folder is
// absent (the requirement is missing); any other error (a damaged or truncated file, a wrong
// shape) propagates, so the test fails with it instead of reporting "not installed".
import ESData
import ESTestSupport
import Foundation
import XCTest

extension FashionMNIST {
    static func orSkip(_ split: Split, root: String = FashionMNIST.defaultRoot) throws -> FashionMNIST {
        guard FileManager.default.fileExists(atPath: root) else {
            throw XCTSkip("dataset-fashion-mnist is not installed (\(root) is absent); apt-get install dataset-fashion-mnist, or launch/setup.sh")
        }
        return try FashionMNIST(root: root, split: split)
    }
}

final class FashionMNISTOrSkipTests: XCTestCase {
    /// An absent folder is a skip; a present but damaged file is an error, not a skip.
    func testOnlyAnAbsentDatasetSkips() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-fm-skip")
        XCTAssertThrowsError(try FashionMNIST.orSkip(.test, root: tmp.path("absent"))) { XCTAssertTrue($0 is XCTSkip, "\($0)") }
        try FileManager.default.createDirectory(atPath: tmp.path("damaged"), withIntermediateDirectories: true)
        for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
            _ = FileManager.default.createFile(atPath: tmp.path("damaged/" + name), contents: Data([0x1F, 0x8B, 0x08, 0x00]))   // a gzip header, cut
        }
        XCTAssertThrowsError(try FashionMNIST.orSkip(.test, root: tmp.path("damaged"))) { XCTAssertFalse($0 is XCTSkip, "\($0)") }
    }
}
