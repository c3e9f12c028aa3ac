// A file of named tensors read as Float, whatever wrote it: a safetensors file (esvit's own
// checkpoints, timm/Hugging Face weights) or a torch.save `.pth` (upstream EsViT and Swin
// checkpoints), opened by `WeightsFile.open`, which tells the two apart by their first bytes.
// Weights.load maps a parameter table onto any TensorSource.
import Foundation

public protocol TensorSource {
    var path: String { get }
    /// Every tensor's shape, by name.
    var shapes: [String: [Int]] { get }
    /// Why tensor `name` cannot be read as Float (e.g. an integer tensor), or nil.
    func floatProblem(_ name: String) -> String?
    /// Copies tensor `name`, converted to Float, into `dst` (exactly `count` values expected).
    func copyFloats(_ name: String, into dst: UnsafeMutablePointer<Float>, count: Int) throws
    /// One line to print when the data cannot be verified (no checksums), or nil.
    var unverifiedNote: String? { get }
}

public enum WeightsFile {
    /// Opens `path` as torch.save (a ZIP, or the legacy pickle format, which is refused with a hint)
    /// or as safetensors, by its first four bytes: "PK\3\4" (ZIP), 80 02 8a 0a (protocol-2 pickle
    /// of torch's legacy magic number; as a safetensors header length it would exceed 100 MB).
    public static func open(_ path: String) throws -> TensorSource {
        guard let h = FileHandle(forReadingAtPath: path) else { throw SafeTensorsError.io("\(path): no such file or not readable") }
        let head = (try? h.read(upToCount: 4)) ?? Data()
        try? h.close()
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x80, 0x02, 0x8A, 0x0A]) { return try TorchCheckpoint(path: path) }
        return try SafeTensorsFile(path: path)
    }
}

extension SafeTensorsFile: TensorSource {
    public var shapes: [String: [Int]] { tensors.mapValues(\.shape) }

    public func floatProblem(_ name: String) -> String? {
        guard let t = tensors[name] else { return "missing" }
        return ["F32", "F16", "BF16", "F64"].contains(t.dtype) ? nil : "\(t.dtype), not a floating-point type"
    }

    /// Element size and conversion to Float of every dtype a safetensors file may hold.
    static let readers: [String: (Int, (UnsafeRawPointer) -> Float)] = [
        "F32": (4, { $0.loadUnaligned(as: Float.self) }),
        "F16": (2, { Float($0.loadUnaligned(as: Float16.self)) }),
        "BF16": (2, { Float(bitPattern: UInt32($0.loadUnaligned(as: UInt16.self)) << 16) }),
        "F64": (8, { Float($0.loadUnaligned(as: Double.self)) }),
        "I64": (8, { Float($0.loadUnaligned(as: Int64.self)) }),
        "I32": (4, { Float($0.loadUnaligned(as: Int32.self)) }),
        "I16": (2, { Float($0.loadUnaligned(as: Int16.self)) }),
        "I8": (1, { Float($0.loadUnaligned(as: Int8.self)) }),
        "U8": (1, { Float($0.loadUnaligned(as: UInt8.self)) }),
        "BOOL": (1, { Float($0.loadUnaligned(as: UInt8.self)) }),
    ]
}

extension TorchCheckpoint: TensorSource {
    public var path: String { file }
    public var shapes: [String: [Int]] { index.mapValues { refs[$0].ref.shape } }

    public func floatProblem(_ name: String) -> String? {
        guard let i = index[name] else { return "missing" }
        let type = refs[i].ref.storageType
        return ["torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage"].contains(type) ? nil : "\(type), not floating-point"
    }

    public var unverifiedNote: String? {
        archive.lacksChecksums ? "note: \(file) was saved without CRC-32s (torch.serialization.set_crc32_options(False)); its data is loaded unverified" : nil
    }

    public func copyFloats(_ name: String, into dst: UnsafeMutablePointer<Float>, count: Int) throws {
        let v = try tensor(name).values
        guard v.count == count else { throw TorchFileError.invalid("\(file): tensor \(name) has \(v.count) values, expected \(count)") }
        v.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: count) }
    }
}
