// RandomResizedCrop's geometry, exactly torchvision's algorithm (docs/algorithm.md §3): up to 10 attempts of
//   target_area = H·W · U(scale)            (U drawn as float32, as torch's uniform_)
//   aspect      = exp(U(log r₀, log r₁))    (float32 log and exp, as torch)
//   w = round(√(target_area·aspect)), h = round(√(target_area/aspect))   (round half to even)
//   accept if 0 < w ≤ W and 0 < h ≤ H: i = randint(0, H − h + 1), j = randint(0, W − w + 1)
// then the centre-crop fallback clamped to the ratio range. Draws come from a source so the
// same function runs on keyed randomness (training) and on torchvision's recorded draws (tests).
import ESKernels
import Foundation

public protocol CropRandomSource {
    /// A float32 sample in [lo, hi).
    mutating func uniform32(_ lo: Float, _ hi: Float) -> Float
    /// An integer in lo..<hiExclusive.
    mutating func randint(_ lo: Int, _ hiExclusive: Int) -> Int
}

extension KeyedRandom: CropRandomSource {
    public mutating func uniform32(_ lo: Float, _ hi: Float) -> Float {
        min(lo + (hi - lo) * Float(next() >> 40) * 0x1p-24, hi.nextDown)
    }
    public mutating func randint(_ lo: Int, _ hiExclusive: Int) -> Int { lo + Int(next() % UInt64(hiExclusive - lo)) }
}

public struct CropBox: Equatable, Sendable {
    public let top: Int, left: Int, height: Int, width: Int
    public init(top: Int, left: Int, height: Int, width: Int) { self.top = top; self.left = left; self.height = height; self.width = width }
}

public enum RandomResizedCrop {
    public static func box<R: CropRandomSource>(height H: Int, width W: Int, scale: (Double, Double),
                                                ratio: (Double, Double) = (3.0 / 4.0, 4.0 / 3.0), rng: inout R) -> CropBox {
        let area = Double(H * W)
        let logLo = logf(Float(ratio.0)), logHi = logf(Float(ratio.1))
        for _ in 0..<10 {
            let targetArea = area * Double(rng.uniform32(Float(scale.0), Float(scale.1)))
            let aspect = Double(expf(rng.uniform32(logLo, logHi)))
            let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0 && w <= W && h > 0 && h <= H {
                let i = rng.randint(0, H - h + 1), j = rng.randint(0, W - w + 1)
                return CropBox(top: i, left: j, height: h, width: w)
            }
        }
        let inRatio = Double(W) / Double(H)
        let lo = min(ratio.0, ratio.1), hi = max(ratio.0, ratio.1)
        var w = W, h = H
        if inRatio < lo { w = W; h = Int((Double(w) / lo).rounded(.toNearestOrEven)) }
        else if inRatio > hi { h = H; w = Int((Double(h) * hi).rounded(.toNearestOrEven)) }
        return CropBox(top: (H - h) / 2, left: (W - w) / 2, height: h, width: w)
    }
}
