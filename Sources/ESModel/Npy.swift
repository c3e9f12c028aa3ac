// NumPy .npy files (format 1.0/2.0/3.0): read little-endian float32 (float64 is converted) in C
// order, write float32. Used by `esvit forward` so anyone can feed inputs from NumPy/PyTorch and
// compare our features with theirs. Errors say what was found and what is expected.
import Foundation

public struct NpyArray {
    public var shape: [Int]
    public var data: [Float]
    public init(shape: [Int], data: [Float]) { self.shape = shape; self.data = data }
}

public enum Npy {
    public static func read(_ path: String) throws -> NpyArray {
        guard let d = FileManager.default.contents(atPath: path) else { throw SafeTensorsError.io("\(path): cannot read") }
        let b = [UInt8](d)
        guard b.count >= 10, b[0] == 0x93, String(bytes: b[1..<6], encoding: .ascii) == "NUMPY" else {
            throw SafeTensorsError.malformed("\(path): not a .npy file (missing \\x93NUMPY magic)")
        }
        let major = b[6]
        let (hlen, hstart): (Int, Int) = major == 1 ? (Int(b[8]) | Int(b[9]) << 8, 10)
            : (b.count >= 12 ? (Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24, 12) : (-1, 12))
        guard hlen >= 0, hstart + hlen <= b.count, let header = String(bytes: b[hstart..<(hstart + hlen)], encoding: .utf8) else {
            throw SafeTensorsError.malformed("\(path): truncated .npy header")
        }
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let q1 = descrField.firstIndex(of: "'") else {
            throw SafeTensorsError.malformed("\(path): .npy header has no descr")
        }
        let afterQ = descrField[descrField.index(after: q1)...]
        let descr = String(afterQ.prefix { $0 != "'" })
        guard let fo = field("fortran_order"), fo.hasPrefix("False") else {
            throw SafeTensorsError.malformed("\(path): Fortran-ordered arrays are not supported; save with np.ascontiguousarray")
        }
        guard let sf = field("shape"), let open = sf.firstIndex(of: "("), let close = sf.firstIndex(of: ")") else {
            throw SafeTensorsError.malformed("\(path): .npy header has no shape")
        }
        let shape = sf[sf.index(after: open)..<close].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        let count = shape.reduce(1, *)
        let start = hstart + hlen
        switch descr {
        case "<f4":
            guard b.count - start >= count * 4 else { throw SafeTensorsError.malformed("\(path): data holds \(b.count - start) bytes, shape \(shape) needs \(count * 4)") }
            var out = [Float](repeating: 0, count: count)
            out.withUnsafeMutableBytes { dst in b.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start..<(start + count * 4)])) } }
            return NpyArray(shape: shape, data: out)
        case "<f8":
            guard b.count - start >= count * 8 else { throw SafeTensorsError.malformed("\(path): data holds \(b.count - start) bytes, shape \(shape) needs \(count * 8)") }
            var tmp = [Double](repeating: 0, count: count)
            tmp.withUnsafeMutableBytes { dst in b.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start..<(start + count * 8)])) } }
            return NpyArray(shape: shape, data: tmp.map(Float.init))
        default:
            throw SafeTensorsError.malformed("\(path): dtype \(descr) is not supported; use float32 ('<f4')")
        }
    }

    public static func write(_ a: NpyArray, to path: String) throws {
        let shapeText = a.shape.count == 1 ? "(\(a.shape[0]),)" : "(" + a.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        var d = Data(bytes)
        a.data.withUnsafeBufferPointer { d.append(Data(buffer: $0)) }
        try AtomicFile.write(d, to: path)
    }
}
