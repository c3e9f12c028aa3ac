// The picture of `esvit eval-dense --picture`: one row per test scene, input | truth | prediction,
// each enlarged 4×, classes in a fixed palette (background black).
import ESData
import Foundation

public enum DensePicture {
    /// Background and the 10 Fashion-MNIST classes.
    static let palette: [(UInt8, UInt8, UInt8)] = [(0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
                                                     (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]

    public static func render(scenes: FashionScenes, predictions: [[UInt8]], size G: Int, zoom: Int = 4, gap: Int = 6) -> RGBImage {
        let T = G * zoom, W = 3 * T + 4 * gap, H = predictions.count * (T + gap) + gap
        var px = [UInt8](repeating: 255, count: W * H * 3)
        func put(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) { let o = (y * W + x) * 3; px[o] = c.0; px[o + 1] = c.1; px[o + 2] = c.2 }
        for (row, pred) in predictions.enumerated() {
            let (image, labels) = scenes.scene(row), S = image.width
            let top = gap + row * (T + gap)
            for y in 0..<T {
                for x in 0..<T {
                    let (sy, sx) = (y / zoom * S / G, x / zoom * S / G)
                    let v = image.pixels[3 * (sy * S + sx)]
                    put(gap + x, top + y, (v, v, v))
                    put(2 * gap + T + x, top + y, palette[Int(labels[sy * S + sx]) % palette.count])
                    put(3 * gap + 2 * T + x, top + y, palette[Int(pred[(y / zoom) * G + x / zoom]) % palette.count])
                }
            }
        }
        return RGBImage(width: W, height: H, pixels: px)
    }
}
