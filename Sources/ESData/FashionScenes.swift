// Fashion-MNIST scenes: data with regions, made offline from the Debian package alone
// (docs/results.md §10 gives the reasons for the numbers). Scene i of a split is a 64 × 64 black
// canvas holding 2–4 Fashion-MNIST items of that split (train scenes from the training images,
// test scenes from the test images), each scaled by a factor in [0.75, 1.5] (21–42 px, bicubic)
// and placed uniformly at random wholly inside the canvas, painted in order; its label map gives
// every pixel 0 (background) or 1 + the class of the item on top there, an item's pixel counting
// as foreground from gray level 24 (Fashion-MNIST backgrounds are exactly 0).
// Everything is drawn from KeyedRandom(seed, split, i): the item count, then per item its image
// (the first item of scene i is image i, so an epoch leads with every image once), scale, x, y.
// For image-level measures, `FashionItems` puts one item, unscaled, at the centre of the same
// canvas: the single items of the scenes' own scale and background.
import ESKernels
import Foundation

public struct FashionScenes: Sendable {
    /// Canvas side in pixels.
    public static let canvas = 64
    /// Items per scene (inclusive), scale range of the 28-px items, foreground threshold.
    public static let itemCount = 2...4, scale = (0.75, 1.5), foreground: UInt8 = 24
    /// The seed the scenes of `esvit` are generated with (a fixed dataset, like any benchmark).
    public static let defaultSeed: UInt64 = 20_261_202

    public let items: FashionMNIST
    public let seed: UInt64

    public init(items: FashionMNIST, seed: UInt64 = FashionScenes.defaultSeed) { self.items = items; self.seed = seed }

    /// One item of a scene: which image, and where it lands on the canvas.
    public struct Placement: Equatable, Sendable {
        public let index: Int, size: Int, x: Int, y: Int
    }

    /// The items of scene `i`, in painting order.
    public func placements(_ i: Int) -> [Placement] {
        var rng = KeyedRandom(seed, items.split == .train ? 0 : 1, UInt64(i))
        let n = FashionScenes.itemCount.lowerBound + Int(rng.next() % UInt64(FashionScenes.itemCount.count))
        return (0..<n).map { k in
            let index = k == 0 ? i : Int(rng.next() % UInt64(items.count))
            let size = Int((28 * rng.uniform(FashionScenes.scale.0, FashionScenes.scale.1)).rounded())
            let x = Int(rng.next() % UInt64(FashionScenes.canvas - size + 1)), y = Int(rng.next() % UInt64(FashionScenes.canvas - size + 1))
            return Placement(index: index, size: size, x: x, y: y)
        }
    }

    /// Scene `i`: the RGB canvas (gray) and its label map (canvas², 0 = background, 1 + class).
    public func scene(_ i: Int) -> (image: RGBImage, labels: [UInt8]) {
        FashionScenes.paint(placements(i).map { ($0, items.label($0.index)) }, items: items)
    }

    /// Paints `placed` items in order onto a black canvas.
    static func paint(_ placed: [(Placement, Int)], items: FashionMNIST) -> (image: RGBImage, labels: [UInt8]) {
        let side = FashionScenes.canvas
        var gray = [UInt8](repeating: 0, count: side * side), labels = gray
        for (p, cls) in placed {
            let item = (try? items.load(p.index, minShortSide: 0)) ?? RGBImage(width: 28, height: 28, pixels: [UInt8](repeating: 0, count: 28 * 28 * 3))
            let scaled = p.size == 28 ? item : ImageOps.cropResize(item, box: CropBox(top: 0, left: 0, height: 28, width: 28), outWidth: p.size, outHeight: p.size)
            for y in 0..<p.size {
                for x in 0..<p.size {
                    let v = scaled.pixels[3 * (y * p.size + x)]
                    guard v >= FashionScenes.foreground else { continue }
                    let o = (p.y + y) * side + p.x + x
                    gray[o] = v; labels[o] = UInt8(1 + cls)
                }
            }
        }
        var rgb = [UInt8](repeating: 0, count: side * side * 3)
        for k in 0..<(side * side) { rgb[3 * k] = gray[k]; rgb[3 * k + 1] = gray[k]; rgb[3 * k + 2] = gray[k] }
        return (RGBImage(width: side, height: side, pixels: rgb), labels)
    }

    /// The 11 classes of the label maps.
    public static let segmentClasses = ["background"] + FashionMNIST.classNames
}

/// What both canvas sources share: Fashion-MNIST's items give the count, the classes, each
/// sample's label (for a scene: its first item's) and its name.
public protocol FashionCanvas: ImageSource {
    var items: FashionMNIST { get }
    /// The name's first part ("fashion-scenes", "fashion-items").
    static var kind: String { get }
    /// Sample i, painted on the canvas.
    func paint(_ i: Int) -> RGBImage
}

extension FashionCanvas {
    public var count: Int { items.count }
    public var classNames: [String] { FashionMNIST.classNames }
    public func label(_ i: Int) -> Int { items.label(i) }
    public func name(_ i: Int) -> String { "\(Self.kind)/\(items.split.rawValue)/\(i)" }
    public func load(_ i: Int, plan: (_ width: Int, _ height: Int) -> Int) throws -> RGBImage {
        _ = plan(FashionScenes.canvas, FashionScenes.canvas)
        return paint(i)
    }
}

extension FashionScenes: FashionCanvas {
    public static let kind = "fashion-scenes"
    public func paint(_ i: Int) -> RGBImage { scene(i).image }
}

/// Single Fashion-MNIST items, unscaled, at the centre of the scenes' canvas (image-level k-NN
/// and linear probe of networks trained on scenes).
public struct FashionItems: FashionCanvas {
    public static let kind = "fashion-items"
    public let items: FashionMNIST
    public init(items: FashionMNIST) { self.items = items }
    public func paint(_ i: Int) -> RGBImage {
        let at = (FashionScenes.canvas - 28) / 2
        return FashionScenes.paint([(FashionScenes.Placement(index: i, size: 28, x: at, y: at), items.label(i))], items: items).image
    }
}
