// JPEG decoding and encoding through libjpeg-turbo (JPEGShim). Decoding yields 8-bit RGB
// (grayscale replicated, CMYK converted) with optional DCT-domain downscaling; every failure
// (truncated, corrupt, not a JPEG, empty, absurdly large) is a thrown DataError naming the cause.
import Foundation
import JPEGShim

/// Interleaved 8-bit RGB, row-major (H, W, 3).
public struct RGBImage: Sendable, Equatable {
    public let width: Int, height: Int
    public var pixels: [UInt8]
    public init(width: Int, height: Int, pixels: [UInt8]) { self.width = width; self.height = height; self.pixels = pixels }
}

public enum JPEG {
    /// PIL's decompression-bomb threshold (Image.MAX_IMAGE_PIXELS): larger images are refused.
    public static let defaultMaxPixels = 89_478_485

    /// Decodes `bytes`; `minShortSide` > 0 lets libjpeg downscale by 2, 4 or 8 while the short side
    /// stays ≥ minShortSide. Returns the image and the scale denominator used.
    public static func decode(_ bytes: [UInt8], minShortSide: Int = 0, maxPixels: Int = defaultMaxPixels) throws -> (RGBImage, Int) {
        guard !bytes.isEmpty else { throw DataError.malformed("empty file") }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var w: Int32 = 0, h: Int32 = 0, denom: Int32 = 1
        var err = [CChar](repeating: 0, count: 256)
        let rc = bytes.withUnsafeBufferPointer { b in
            jpegshim_decode_rgb(b.baseAddress, UInt(b.count), Int32(minShortSide), maxPixels, &out, &w, &h, &denom, &err, Int32(err.count))
        }
        guard rc == 0, let out else { throw DataError.malformed(String(cString: err)) }
        defer { jpegshim_free(out) }
        let n = Int(w) * Int(h) * 3
        return (RGBImage(width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: out, count: n))), Int(denom))
    }

    public static func decode(file path: String, minShortSide: Int = 0, maxPixels: Int = defaultMaxPixels) throws -> (RGBImage, Int) {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError.missing("cannot read the file") }
        return try decode([UInt8](data), minShortSide: minShortSide, maxPixels: maxPixels)
    }

    /// Image size from the header only (no pixel is decoded).
    public static func size(_ bytes: [UInt8]) throws -> (width: Int, height: Int) {
        guard !bytes.isEmpty else { throw DataError.malformed("empty file") }
        var w: Int32 = 0, h: Int32 = 0, comps: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = bytes.withUnsafeBufferPointer { jpegshim_info($0.baseAddress, UInt($0.count), &w, &h, &comps, &err, Int32(err.count)) }
        guard rc == 0 else { throw DataError.malformed(String(cString: err)) }
        return (Int(w), Int(h))
    }

    /// Encodes gray (components 1) or RGB (3) pixels.
    public static func encode(_ pixels: [UInt8], width: Int, height: Int, components: Int, quality: Int = 95) throws -> Data {
        precondition(pixels.count == width * height * components, "pixel count does not match the size")
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = pixels.withUnsafeBufferPointer { p in
            jpegshim_encode(p.baseAddress, Int32(width), Int32(height), Int32(components), Int32(quality), &out, &size, &err, Int32(err.count))
        }
        guard rc == 0, let out else { throw DataError.malformed("JPEG encoding failed: \(String(cString: err))") }
        defer { jpegshim_free(out) }
        return Data(bytes: out, count: Int(size))
    }
}
