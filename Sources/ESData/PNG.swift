// PNG encoding of an RGB image (8-bit, colour type 2, no interlace, filter 0 on every row,
// zlib-compressed IDAT), for the plots and pictures the tools write.
import CZlib
import Foundation

public enum PNG {
    public static func encode(_ image: RGBImage) throws -> Data {
        let W = image.width, H = image.height
        var raw = [UInt8](repeating: 0, count: H * (3 * W + 1))
        for y in 0..<H {
            raw[y * (3 * W + 1)] = 0
            for i in 0..<(3 * W) { raw[y * (3 * W + 1) + 1 + i] = image.pixels[y * 3 * W + i] }
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
        chunk("IHDR", be32(W) + be32(H) + [8, 2, 0, 0, 0])
        chunk("IDAT", Array(packed[0..<Int(size)]))
        chunk("IEND", [])
        return out
    }
}
