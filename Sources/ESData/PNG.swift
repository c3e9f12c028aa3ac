// PNG encoding of an RGB image (8-bit, colour type 2) or a gray one (8-bit, colour type 0, e.g.
// the scenes' label maps), no interlace, filter 0 on every row, zlib-compressed IDAT, for the
// plots, pictures and label maps the tools write.
import CZlib
import Foundation

public enum PNG {
    public static func encode(_ image: RGBImage) throws -> Data {
        try encode(image.pixels, width: image.width, height: image.height, channels: 3)
    }

    /// One byte per pixel, row-major (`width` × `height`).
    public static func encodeGray(_ pixels: [UInt8], width: Int, height: Int) throws -> Data {
        try encode(pixels, width: width, height: height, channels: 1)
    }

    static func encode(_ pixels: [UInt8], width W: Int, height H: Int, channels: Int) throws -> Data {
        let row = channels * W
        var raw = [UInt8](repeating: 0, count: H * (row + 1))
        for y in 0..<H {
            raw[y * (row + 1)] = 0
            for i in 0..<row { raw[y * (row + 1) + 1 + i] = pixels[y * row + i] }
        }
        var size = compressBound(uLong(raw.count))
        var packed = [UInt8](repeating: 0, count: Int(size))
        guard compress2(&packed, &size, raw, uLong(raw.count), 6) == Z_OK else { throw CocoaError(.fileWriteUnknown) }
        var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        func chunk(_ type: String, _ body: [UInt8]) {
            let t = Array(type.utf8)
            out.append(contentsOf: be32(body.count))
            out.append(contentsOf: t + body)
            let crc = (t + body).withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
            out.append(contentsOf: be32(Int(crc)))
        }
        chunk("IHDR", be32(W) + be32(H) + [8, channels == 1 ? 0 : 2, 0, 0, 0])
        chunk("IDAT", Array(packed[0..<Int(size)]))
        chunk("IEND", [])
        return out
    }
}
