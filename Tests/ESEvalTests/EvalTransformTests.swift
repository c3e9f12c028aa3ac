// The evaluation transform against torchvision (tools/reference/make_eval_transform_fixtures.py):
// Resize(⌊G·256/224⌋, bicubic) on the short side + CenterCrop(G) on square, landscape and portrait
// inputs, up- and downscaling. The pixels must be identical; normalisation follows from them.
import ESData
import ESEval
import ESKernels
import Foundation
import XCTest

final class EvalTransformTests: XCTestCase {
    func testMatchesTorchvisionResizeAndCenterCrop() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/eval_transform", withExtension: "json"))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let cases = try XCTUnwrap(root["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 5)
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        for c in cases {
            let h = c["height"] as! Int, w = c["width"] as! Int, g = c["size"] as! Int
            let input = [UInt8](Data(base64Encoded: c["input"] as! String)!), want = [UInt8](Data(base64Encoded: c["output"] as! String)!)
            XCTAssertEqual(want.count, g * g * 3)
            let out = FloatBuffer(count: 3 * g * g)
            EvalTransform.apply(RGBImage(width: w, height: h, pixels: input), size: g, mean: mean, std: std, into: out.pointer)
            var mismatches = 0
            for y in 0..<g { for x in 0..<g { for ch in 0..<3 {
                let expected = (Float(want[(y * g + x) * 3 + ch]) / 255 - mean[ch]) / std[ch]
                if abs(out[ch * g * g + y * g + x] - expected) > 1e-6 { mismatches += 1 }
            } } }
            XCTAssertEqual(mismatches, 0, "\(h)×\(w) → \(g): \(mismatches) values differ from torchvision")
        }
    }
}
