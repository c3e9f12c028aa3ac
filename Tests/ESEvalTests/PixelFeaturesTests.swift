// The pixel baselines (eval-knn --pixels): each feature is the image's gray values (mean of R, G,
// B over 255), standardised per pixel with the training set's mean and std when asked, then
// L2-normalised — recomputed here in Double from the images themselves.
import ESData
import ESEval
import XCTest

final class PixelFeaturesTests: XCTestCase {
    func testRawAndStandardizedPixelsMatchTheirDefinitions() throws {
        let train = try FashionMNIST.orSkip(.train), test = try FashionMNIST.orSkip(.test)
        let nTrain = 300, nTest = 50
        func gray(_ s: ImageSource, _ n: Int) throws -> [[Double]] {
            var out: [[Double]] = []
            for i in 0..<n {
                let img = try s.load(i, minShortSide: 0)
                var row: [Double] = []
                for p in 0..<(img.width * img.height) {
                    let sum = Double(img.pixels[3 * p]) + Double(img.pixels[3 * p + 1]) + Double(img.pixels[3 * p + 2])
                    row.append(sum / (3 * 255))
                }
                out.append(row)
            }
            return out
        }
        func normalised(_ v: [Double]) -> [Double] { let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot(); return v.map { $0 / n } }
        let gTrain = try gray(train, nTrain), gTest = try gray(test, nTest), D = gTrain[0].count
        XCTAssertEqual(D, 784)
        var mean = [Double](repeating: 0, count: D), std = [Double](repeating: 0, count: D)
        for v in gTrain { for d in 0..<D { mean[d] += v[d] / Double(nTrain) } }
        for v in gTrain { for d in 0..<D { std[d] += (v[d] - mean[d]) * (v[d] - mean[d]) / Double(nTrain) } }
        std = std.map { max($0.squareRoot(), 1e-6) }
        for mode in PixelFeatures.Mode.allCases {
            let a = try PixelFeatures.extract(train, limit: nTrain), b = try PixelFeatures.extract(test, limit: nTest)
            PixelFeatures.finish(train: a, test: b, mode: mode)
            XCTAssertEqual(a.dim, D)
            XCTAssertEqual(a.labels.map(Int.init), (0..<nTrain).map { train.label($0) })
            for (f, g, rows) in [(a, gTrain, [0, 7, nTrain - 1]), (b, gTest, [0, nTest - 1])] {
                for r in rows {
                    let want = normalised(mode == .raw ? g[r] : (0..<D).map { (g[r][$0] - mean[$0]) / std[$0] })
                    var worst = 0.0
                    for d in 0..<D { worst = max(worst, abs(Double(f.values[r * D + d]) - want[d])) }
                    XCTAssertLessThan(worst, 1e-5, "\(mode) row \(r)")
                }
            }
        }
    }
}
