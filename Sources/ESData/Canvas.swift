// A small RGB raster for the pictures and plots the tools write: pixels, 2-px lines
// (Bresenham), filled discs, rectangles, and text in a 3×5 bitmap font (digits, letters drawn as
// capitals, and a little punctuation) scaled ×2. No dependencies; output goes through JPEG or PNG.
import Foundation

public struct Canvas {
    public typealias Color = (UInt8, UInt8, UInt8)
    public let width: Int, height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, background: Color = (255, 255, 255)) {
        self.width = width; self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { pixels[3 * i] = background.0; pixels[3 * i + 1] = background.1; pixels[3 * i + 2] = background.2 }
    }

    public var image: RGBImage { RGBImage(width: width, height: height, pixels: pixels) }

    public mutating func put(_ x: Int, _ y: Int, _ c: Color) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let o = (y * width + x) * 3
        pixels[o] = c.0; pixels[o + 1] = c.1; pixels[o + 2] = c.2
    }

    /// A 2-px wide line from (x0, y0) to (x1, y1).
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: Color) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            put(x, y, c); put(x, y + 1, c)
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    public mutating func disc(_ cx: Int, _ cy: Int, radius r: Int, _ c: Color) {
        for yy in -r...r { for xx in -r...r where xx * xx + yy * yy <= r * r { put(cx + xx, cy + yy, c) } }
    }

    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ c: Color) {
        for yy in y..<(y + h) { for xx in x..<(x + w) { put(xx, yy, c) } }
    }

    public mutating func frame(x: Int, y: Int, width w: Int, height h: Int, _ c: Color) {
        for xx in x...(x + w) { put(xx, y, c); put(xx, y + h, c) }
        for yy in y...(y + h) { put(x, yy, c); put(x + w, yy, c) }
    }

    /// Rows of 3 bits, most significant bit on the left.
    static let glyphs: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
        "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [3, 4, 4, 4, 3], "D": [6, 5, 5, 5, 6], "E": [7, 4, 6, 4, 7],
        "F": [7, 4, 6, 4, 4], "G": [3, 4, 5, 5, 3], "H": [5, 5, 7, 5, 5], "I": [7, 2, 2, 2, 7], "J": [1, 1, 1, 5, 2],
        "K": [5, 5, 6, 5, 5], "L": [4, 4, 4, 4, 7], "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [2, 5, 5, 5, 2],
        "P": [6, 5, 6, 4, 4], "Q": [2, 5, 5, 6, 3], "R": [6, 5, 6, 5, 5], "S": [3, 4, 2, 1, 6], "T": [7, 2, 2, 2, 2],
        "U": [5, 5, 5, 5, 7], "V": [5, 5, 5, 5, 2], "W": [5, 5, 7, 7, 5], "X": [5, 5, 2, 5, 5], "Y": [5, 5, 2, 2, 2],
        "Z": [7, 1, 2, 4, 7], ".": [0, 0, 0, 0, 2], ",": [0, 0, 0, 2, 4], "-": [0, 0, 7, 0, 0], "_": [0, 0, 0, 0, 7],
        "%": [5, 1, 2, 4, 5], "(": [1, 2, 2, 2, 1], ")": [4, 2, 2, 2, 4], ":": [0, 2, 0, 2, 0], "+": [0, 2, 7, 2, 0],
        "/": [1, 1, 2, 4, 4], ">": [4, 2, 1, 2, 4], "<": [1, 2, 4, 2, 1], "=": [0, 7, 0, 7, 0], " ": [0, 0, 0, 0, 0],
    ]
    /// Horizontal advance of one character at scale 2.
    public static let advance = 8

    /// Text with its top-left corner at (x, y), 10 px high; unknown characters draw as blanks.
    /// `box` paints a background rectangle first.
    public mutating func text(_ s: String, x: Int, y: Int, _ c: Color = (0, 0, 0), box: Color? = nil) {
        let chars = Array(s.uppercased())
        if let box { fill(x: x - 1, y: y - 1, width: chars.count * Canvas.advance + 1, height: 12, box) }
        for (i, ch) in chars.enumerated() {
            guard let g = Canvas.glyphs[ch] else { continue }
            for r in 0..<5 { for col in 0..<3 where g[r] >> (2 - col) & 1 == 1 {
                fill(x: x + i * Canvas.advance + col * 2, y: y + r * 2, width: 2, height: 2, c)
            } }
        }
    }
}
