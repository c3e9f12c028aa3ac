// Reads the tensors of a torch.save file (`.pth`) without Python: TorchZip finds data.pkl and
// the storages, the restricted Unpickler rebuilds the object tree, and every tensor in it
// (in nested dicts and lists, named by its path joined with ".", e.g. `teacher.backbone.norm.weight`
// or `student.module.head.mlp.0.bias`) is materialised on request from its storage, view offset
// and strides, converted to Float (F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool storages).
// Non-tensor leaves (epoch, args, …) are kept as PickleValues.
import Foundation

public struct TorchTensor {
    public let shape: [Int]
    /// The storage's element type as torch names it (e.g. "torch.HalfStorage").
    public let storageType: String
    public let values: [Float]
}

public struct TorchCheckpoint {
    public let root: PickleValue
    /// The file read.
    public let file: String
    /// Every tensor's name and view, in file order; storages are read (and CRC-checked) only
    /// when a tensor is materialised, so optimizer state nobody asks for costs nothing.
    public let refs: [(name: String, ref: TorchTensorRef)]
    /// Position in `refs` by name.
    let index: [String: Int]
    let archive: TorchZip
    let storagePrefix: String

    public init(path: String) throws {
        file = path
        archive = try TorchZip(path: path)
        guard let pkl = archive.entries.keys.filter({ $0.hasSuffix("data.pkl") }).min(by: { $0.count < $1.count }) else {
            throw TorchFileError.invalid("\(path): no data.pkl in the archive; is it a torch.save file?")
        }
        let prefix = String(pkl.dropLast("data.pkl".count))
        storagePrefix = prefix + "data/"
        if let order = try archive.bytes(prefix + "byteorder", file: path), String(decoding: order, as: UTF8.self) != "little" {
            throw TorchFileError.invalid("\(path): big-endian storages are not supported")
        }
        root = try Unpickler.load(try archive.bytes(pkl, file: path)!, name: path)
        var out: [(String, TorchTensorRef)] = []
        try TorchCheckpoint.walk(root, "") { [archive, storagePrefix] name, ref in
            guard archive.entries[storagePrefix + ref.storageKey] != nil else {
                throw TorchFileError.invalid("\(path): tensor \(name) names storage \(ref.storageKey), which the archive lacks")
            }
            out.append((name, ref))
        }
        refs = out
        index = Dictionary(out.enumerated().map { ($1.0, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Tensor `name`, read from its storage and converted to Float.
    public func tensor(_ name: String) throws -> TorchTensor {
        guard let i = index[name] else { throw TorchFileError.invalid("\(file): missing tensor \(name)") }
        let ref = refs[i].ref
        let storage = try archive.bytes(storagePrefix + ref.storageKey, file: file)!
        return try TorchCheckpoint.materialise(ref, storage, name: "\(file): tensor \(name)")
    }

    /// Every tensor, materialised, in file order.
    public func tensors() throws -> [(name: String, tensor: TorchTensor)] { try refs.map { ($0.name, try tensor($0.name)) } }

    /// Calls `body` for every tensor under `v`, with its dotted path.
    static func walk(_ v: PickleValue, _ path: String, _ body: (String, TorchTensorRef) throws -> Void) throws {
        func join(_ k: String) -> String { path.isEmpty ? k : path + "." + k }
        switch v {
        case .tensor(let t): try body(path, t)
        case .dict(let d):
            for (k, x) in d.items {
                switch k {
                case .string(let s): try walk(x, join(s), body)
                case .int(let i): try walk(x, join(String(i)), body)
                default: continue
                }
            }
        case .list(let l): for (i, x) in l.items.enumerated() { try walk(x, join(String(i)), body) }
        case .tuple(let t): for (i, x) in t.enumerated() { try walk(x, join(String(i)), body) }
        default: return
        }
    }

    /// Bytes per element and a reader to Float for each storage type.
    static func element(_ type: String) -> (Int, (UnsafeRawPointer) -> Float)? {
        switch type {
        case "torch.FloatStorage": return (4, { $0.loadUnaligned(as: Float.self) })
        case "torch.HalfStorage": return (2, { Float($0.loadUnaligned(as: Float16.self)) })
        case "torch.BFloat16Storage": return (2, { Float(bitPattern: UInt32($0.loadUnaligned(as: UInt16.self)) << 16) })
        case "torch.DoubleStorage": return (8, { Float($0.loadUnaligned(as: Double.self)) })
        case "torch.LongStorage": return (8, { Float($0.loadUnaligned(as: Int64.self)) })
        case "torch.IntStorage": return (4, { Float($0.loadUnaligned(as: Int32.self)) })
        case "torch.ShortStorage": return (2, { Float($0.loadUnaligned(as: Int16.self)) })
        case "torch.CharStorage": return (1, { Float($0.loadUnaligned(as: Int8.self)) })
        case "torch.ByteStorage", "torch.BoolStorage": return (1, { Float($0.loadUnaligned(as: UInt8.self)) })
        default: return nil
        }
    }

    /// The view's elements in row-major order, bounds-checked against the storage.
    static func materialise(_ r: TorchTensorRef, _ storage: Data, name: String) throws -> TorchTensor {
        guard let (size, read) = element(r.storageType) else { throw TorchFileError.invalid("\(name): unsupported storage \(r.storageType)") }
        guard r.shape.count == r.stride.count else { throw TorchFileError.invalid("\(name): shape and stride differ in length") }
        let count = r.shape.reduce(1, *), available = storage.count / size
        if count > 0 {
            let last = r.offset + zip(r.shape, r.stride).reduce(0) { $0 + ($1.0 - 1) * $1.1 }
            guard r.offset >= 0, last < available else {
                throw TorchFileError.invalid("\(name): view (offset \(r.offset), shape \(r.shape), stride \(r.stride)) reaches past its storage of \(available) elements")
            }
        }
        var values = [Float](repeating: 0, count: count)
        storage.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            var contiguous = true, step = 1
            for a in stride(from: r.shape.count - 1, through: 0, by: -1) where r.shape[a] != 1 {
                if r.stride[a] != step { contiguous = false }
                step *= r.shape[a]
            }
            if contiguous && r.storageType == "torch.FloatStorage" {     // the common case: one copy
                values.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: base + r.offset * 4, count: count * 4)) }
                return
            }
            var index = [Int](repeating: 0, count: r.shape.count)
            for i in 0..<count {
                var e = r.offset
                for a in 0..<index.count { e += index[a] * r.stride[a] }
                values[i] = read(base + e * size)
                var a = index.count - 1
                while a >= 0 { index[a] += 1; if index[a] < r.shape[a] { break }; index[a] = 0; a -= 1 }
            }
        }
        return TorchTensor(shape: r.shape, storageType: r.storageType, values: values)
    }
}
