// The spec's check values (§1.4-1.6, §9): relative-position indices, shift-mask window counts,
// token counts for 224/96 crops with windows 7 and 14, and backbone parameter counts.
import XCTest
import ESKernels
import ESModel

final class SpecCheckValueTests: XCTestCase {
    func testRelativePositionIndex() {
        let i7 = RelativePosition.index(windowSize: 7)
        XCTAssertEqual(i7[0 * 49 + 0], 84); XCTAssertEqual(i7[0 * 49 + 1], 83); XCTAssertEqual(i7[1 * 49 + 0], 85)
        XCTAssertEqual(i7.min(), 0); XCTAssertEqual(i7.max(), 168)
        let i14 = RelativePosition.index(windowSize: 14)
        XCTAssertEqual(i14[0], 364); XCTAssertEqual(i14.min(), 0); XCTAssertEqual(i14.max(), 728)
    }

    func testShiftMaskCounts() {
        let g56 = WindowGeometry(height: 56, width: 56, windowSize: 7, shift: 3)
        XCTAssertEqual(g56.windowsPerImage, 64); XCTAssertEqual(g56.maskedWindowCount, 15)
        let last = g56.mask!.array[(63 * 49 * 49)...]
        XCTAssertEqual(last.filter { $0 != 0 }.count, 1776)
        let g24 = WindowGeometry(height: 24, width: 24, windowSize: 7, shift: 3)
        XCTAssertEqual(g24.paddedHeight, 28); XCTAssertEqual(g24.windowsPerImage, 16); XCTAssertEqual(g24.maskedWindowCount, 7)
        let g6 = WindowGeometry(height: 6, width: 6, windowSize: 7, shift: 3)
        XCTAssertEqual(g6.windowsPerImage, 1); XCTAssertEqual(g6.maskedWindowCount, 1)
        let g14 = WindowGeometry(height: 56, width: 56, windowSize: 14, shift: 7)
        let last14 = g14.mask!.array[((g14.windowsPerImage - 1) * 196 * 196)...]
        XCTAssertEqual(last14.filter { $0 != 0 }.count, 28812)
    }

    func testTokenCountsAndClamping() {
        for w in [7, 14] {
            let cfg = SwinConfig.preset("swin_tiny", windowSize: w)!
            let table = ParameterTable()
            let model = SwinModel(config: cfg, table: table)
            for (size, tokens) in [(224, 49), (96, 9)] {
                let ws = SwinWorkspace(model: model, batch: 1, height: size, width: size, training: false)
                XCTAssertEqual(ws.finalTokens, tokens, "W=\(w) at \(size)")
                XCTAssertEqual(ws.finalDim, 768)
            }
            let last = model.blocks.last!.plan
            XCTAssertEqual(last.windowSize, 7); XCTAssertEqual(last.shift, 0)
        }
        // W=14, stage 3 (index 2): clamped to one 14×14 window, no shift; a 96 crop pads 6 → 14.
        let m14 = SwinModel(config: SwinConfig.preset("swin_tiny", windowSize: 14)!, table: ParameterTable())
        let s2 = m14.blocks.filter { $0.plan.stage == 2 }
        XCTAssertTrue(s2.allSatisfy { $0.plan.windowSize == 14 && $0.plan.shift == 0 })
        let ws96 = SwinWorkspace(model: m14, batch: 1, height: 96, width: 96, training: false)
        let g = ws96.blocks[s2[0].plan.globalIndex].geometry
        XCTAssertEqual(g.height, 6); XCTAssertEqual(g.paddedHeight, 14)
    }

    func testBackboneParameterCounts() {
        func millions(_ name: String, _ w: Int = 7) -> Double {
            let t = ParameterTable()
            _ = SwinModel(config: SwinConfig.preset(name, windowSize: w)!, table: t)
            return (Double(t.parameterCount) / 1e4).rounded() / 100
        }
        XCTAssertEqual(millions("swin_tiny"), 27.52)
        XCTAssertEqual(millions("swin_small"), 48.84)
        XCTAssertEqual(millions("swin_base"), 86.74)
        XCTAssertEqual(millions("swin_tiny", 14), 27.57)
    }

    func testDropPathRatesIncreaseLinearly() {
        let plans = SwinConfig.preset("swin_tiny")!.blockPlans
        XCTAssertEqual(plans.first!.dropPath, 0)
        XCTAssertEqual(plans.last!.dropPath, 0.1, accuracy: 1e-7)
        XCTAssertEqual(plans[6].dropPath, 0.1 * 6 / 11, accuracy: 1e-7)
    }
}
