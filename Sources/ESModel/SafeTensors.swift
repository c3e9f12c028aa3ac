// safetensors reading and writing (the format PyTorch users read with `safetensors` directly).
// Layout: u64 little-endian header length n, n bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}
// then the data section. The reader validates everything before any tensor is used: header
// size bounds, JSON shape, known dtypes, shapes × dtype size = byte span, offsets inside the
// data section, no overlaps, and — where the file carries them, as every file esvit writes does —
// the CRC-32 of every tensor (metadata "tensor_crc32"). Every failure names the file and the
// offending key.
// Writes are atomic: temp file in the same folder, fsync, rename, fsync of the folder.
import CZlib
import Foundation

public enum SafeTensorsError: Error, CustomStringConvertible {
    case io(String)
    case malformed(String)
    case mismatch(String)

    public var description: String {
        switch self {
        case .io(let m): return m
        case .malformed(let m): return m
        case .mismatch(let m): return m
        }
    }
}

public struct TensorInfo: Sendable {
    public let name: String
    public let dtype: String
    public let shape: [Int]
    public let begin: Int, end: Int
    public var count: Int { shape.reduce(1, *) }
}

/// When a file's per-tensor checksums are verified: every one as the file is opened, or each
/// tensor as it is copied out (a file loaded whole is then read once; `verifyUnread()` checks
/// what was not copied).
public enum ChecksumTiming: Sendable { case atOpen, onCopy }

public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: TensorInfo]
    public let metadata: [String: String]
    private let data: Data
    private let dataStart: Int
    private let timing: ChecksumTiming
    /// The stored CRC-32 of every tensor (nil: the file has none).
    private var stored: [String: UInt32]? = nil
    /// Tensors whose checksum has been verified (`.onCopy`), under `lock`.
    private var verified = Set<String>()
    private let lock = NSLock()

    public init(path: String, checksums timing: ChecksumTiming = .atOpen) throws {
        self.timing = timing
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw SafeTensorsError.io("\(path): no such file")
        }
        let d: Data
        do { d = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw SafeTensorsError.io("\(path): cannot read (\(error.localizedDescription))")
        }
        data = d
        guard d.count >= 8 else { throw SafeTensorsError.malformed("\(path): file is \(d.count) bytes, too short for a safetensors header") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(d[d.startIndex + i]) << (8 * UInt64(i)) }
        guard n >= 2, n <= 100_000_000, Int(n) <= d.count - 8 else {
            throw SafeTensorsError.malformed("\(path): header length \(n) is impossible for a \(d.count)-byte file (not a safetensors file, or truncated)")
        }
        dataStart = 8 + Int(n)
        let headerBytes = d.subdata(in: (d.startIndex + 8)..<(d.startIndex + dataStart))
        guard let obj = try? JSONSerialization.jsonObject(with: headerBytes), let dict = obj as? [String: Any] else {
            throw SafeTensorsError.malformed("\(path): header is not a JSON object")
        }
        var meta: [String: String] = [:]
        var infos: [String: TensorInfo] = [:]
        let dataLength = d.count - dataStart
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw SafeTensorsError.malformed("\(path): __metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw SafeTensorsError.malformed("\(path): metadata \(k) is not a string") }
                    meta[k] = s
                }
                continue
            }
            guard let t = value as? [String: Any], let dtype = t["dtype"] as? String,
                  let shapeAny = t["shape"] as? [Any], let offAny = t["data_offsets"] as? [Any], offAny.count == 2 else {
                throw SafeTensorsError.malformed("\(path): tensor \(name): entry needs dtype, shape and two data_offsets")
            }
            let shape = shapeAny.compactMap { ($0 as? NSNumber)?.intValue }
            let offs = offAny.compactMap { ($0 as? NSNumber)?.intValue }
            guard shape.count == shapeAny.count, offs.count == 2, shape.allSatisfy({ $0 >= 0 }) else {
                throw SafeTensorsError.malformed("\(path): tensor \(name): shape and offsets must be non-negative integers")
            }
            guard let size = SafeTensorsFile.readers[dtype]?.0 else {
                throw SafeTensorsError.malformed("\(path): tensor \(name): unknown dtype \(dtype)")
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, x in
                let r = acc.0.multipliedReportingOverflow(by: x); return (r.partialValue, acc.1 || r.overflow)
            }
            guard !overflow, offs[0] >= 0, offs[0] <= offs[1], offs[1] <= dataLength else {
                throw SafeTensorsError.malformed("\(path): tensor \(name): data_offsets \(offs) fall outside the \(dataLength)-byte data section")
            }
            guard offs[1] - offs[0] == count * size else {
                throw SafeTensorsError.malformed("\(path): tensor \(name): \(dtype) \(shape) needs \(count * size) bytes but spans \(offs[1] - offs[0])")
            }
            infos[name] = TensorInfo(name: name, dtype: dtype, shape: shape, begin: offs[0], end: offs[1])
        }
        let sorted = infos.values.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            throw SafeTensorsError.malformed("\(path): tensors \(a.name) and \(b.name) overlap in the data section")
        }
        tensors = infos; metadata = meta
        checksummed = meta[SafeTensorsFile.checksumKey] != nil
        try readChecksums()
        if timing == .atOpen { try verifyUnread() }
    }

    /// Metadata key of the per-tensor CRC-32s esvit writes: a JSON object {tensor: crc32}.
    public static let checksumKey = "tensor_crc32"
    /// The file carries per-tensor checksums (verified when it was opened, or as each tensor is copied).
    public let checksummed: Bool
    /// One line for files without checksums (older checkpoints, weights from other tools).
    public var unverifiedNote: String? {
        checksummed ? nil : "note: \(path) has no tensor checksums (an older esvit checkpoint or another tool's file); its data is loaded unverified"
    }

    /// CRC-32 (zlib's) of a tensor's bytes.
    public func crc32(_ t: TensorInfo) -> UInt32 {
        data.withUnsafeBytes { raw in SafeTensorsChecksum.crc32(raw.baseAddress! + dataStart + t.begin, count: t.end - t.begin) }
    }

    /// Reads the stored checksums: refuses damaged ones, a tensor without one and one without a tensor.
    private func readChecksums() throws {
        guard let text = metadata[SafeTensorsFile.checksumKey] else { return }
        guard let crcs = try? JSONDecoder().decode([String: UInt32].self, from: Data(text.utf8)) else {
            throw SafeTensorsError.malformed("\(path): the \(SafeTensorsFile.checksumKey) metadata is damaged")
        }
        if let name = tensors.keys.sorted().first(where: { crcs[$0] == nil }) {
            throw SafeTensorsError.malformed("\(path): tensor \(name) has no stored checksum (the file was altered after it was written)")
        }
        if let extra = Set(crcs.keys).subtracting(tensors.keys).sorted().first {
            throw SafeTensorsError.malformed("\(path): a checksum is stored for tensor \(extra), which the file does not hold")
        }
        stored = crcs
    }

    /// Refuses a tensor whose data disagrees with its stored checksum, naming it.
    private func verify(_ name: String) throws {
        guard let want = stored?[name], let t = tensors[name] else { return }
        if lock.withLock({ verified.contains(name) }) { return }
        let got = crc32(t)
        if got != want {
            throw SafeTensorsError.malformed(String(format: "%@: tensor %@ fails its CRC-32 check (stored %08x, data gives %08x): the file is damaged; "
                                                    + "use an earlier checkpoint or copy it again", path, name, want, got))
        }
        _ = lock.withLock { verified.insert(name) }
    }

    /// Verifies every tensor not verified yet (all of them, when the file is opened `.atOpen`).
    public func verifyUnread() throws { for name in tensors.keys.sorted() { try verify(name) } }

    /// Copies a tensor into `dst` as Float (F32 as is, every other dtype converted; exactly
    /// `count` values expected). Weights.check refuses non-float tensors as parameters first.
    public func copyFloats(_ name: String, into dst: UnsafeMutablePointer<Float>, count: Int) throws {
        guard let t = tensors[name] else { throw SafeTensorsError.mismatch("\(path): missing tensor \(name)") }
        guard let (size, read) = SafeTensorsFile.readers[t.dtype] else {
            throw SafeTensorsError.mismatch("\(path): tensor \(name) has dtype \(t.dtype), which cannot be read")
        }
        guard t.count == count else { throw SafeTensorsError.mismatch("\(path): tensor \(name) has \(t.count) values, expected \(count)") }
        try verify(name)   // opened `.onCopy`: checked just before its bytes are copied (verified ones return at once)
        data.withUnsafeBytes { raw in
            let src = raw.baseAddress! + dataStart + t.begin
            if t.dtype == "F32" { memcpy(dst, src, count * 4); return }   // little-endian host, as the format
            for i in 0..<count { dst[i] = read(src + i * size) }
        }
    }

    public func floats(_ name: String) throws -> [Float] {
        guard let t = tensors[name] else { throw SafeTensorsError.mismatch("\(path): missing tensor \(name)") }
        var out = [Float](repeating: 0, count: t.count)
        try out.withUnsafeMutableBufferPointer { try copyFloats(name, into: $0.baseAddress!, count: t.count) }
        return out
    }
}

/// Builds a safetensors file in memory; tensors are written in insertion order.
public struct SafeTensorsWriter {
    /// A tensor's bytes: copied into the writer, or borrowed from memory the caller keeps valid
    /// until the writer has written (a training state's arenas: saved without a second copy).
    private enum Bytes {
        case owned(Data), borrowed(UnsafeRawBufferPointer)
        func with<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            switch self {
            case .owned(let d): return try d.withUnsafeBytes(body)
            case .borrowed(let b): return try body(b)
            }
        }
        var count: Int { with { $0.count } }
    }
    private var entries: [(name: String, dtype: String, shape: [Int], bytes: Bytes)] = []
    public var metadata: [String: String] = [:]

    public init() {}

    /// Adds a copy of `shape.product` floats.
    public mutating func add(_ name: String, shape: [Int], floats: UnsafePointer<Float>) {
        entries.append((name, "F32", shape, .owned(Data(bytes: floats, count: shape.reduce(1, *) * 4))))
    }

    /// Adds `shape.product` floats without copying them: they must stay valid and unchanged until
    /// `write` (or `serialized`) returns.
    public mutating func add(_ name: String, shape: [Int], borrowing floats: UnsafePointer<Float>) {
        entries.append((name, "F32", shape, .borrowed(UnsafeRawBufferPointer(start: floats, count: shape.reduce(1, *) * 4))))
    }

    public mutating func add(_ name: String, shape: [Int], int64: [Int64]) {
        let bytes = int64.withUnsafeBufferPointer { Data(buffer: $0) }
        entries.append((name, "I64", shape, .owned(bytes)))
    }

    /// The file's first bytes: the header length, then the JSON header (tensor offsets, the
    /// metadata and a CRC-32 of every tensor under `tensor_crc32`), padded to 8 bytes.
    func header() throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        var crcs: [String: UInt32] = [:]
        for e in entries {
            let n = e.bytes.count
            header[e.name] = ["dtype": e.dtype, "shape": e.shape, "data_offsets": [offset, offset + n]] as [String: Any]
            offset += n
            crcs[e.name] = e.bytes.with { SafeTensorsChecksum.crc32($0.baseAddress, count: $0.count) }
        }
        var meta = metadata
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        meta[SafeTensorsFile.checksumKey] = String(decoding: try enc.encode(crcs), as: UTF8.self)
        header["__metadata__"] = meta
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }   // pad so data is 8-byte aligned
        var out = Data(capacity: 8 + json.count)
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        return out
    }

    /// The bytes of the file in memory (the header, then every tensor).
    public func serialized() throws -> Data {
        var out = try header()
        for e in entries { e.bytes.with { out.append(contentsOf: $0) } }
        return out
    }

    public func write(to path: String) throws { try write(to: [path]) }

    /// Writes the same bytes atomically to every path, streaming the tensors from where they are
    /// (the checksums are computed once).
    public func write(to paths: [String]) throws {
        let head = try header()
        for p in paths {
            try AtomicFile.write(to: p) { emit in
                head.withUnsafeBytes(emit)
                for e in entries { e.bytes.with(emit) }
            }
        }
    }
}

/// zlib's CRC-32 (the checksum of gzip and PNG), over raw bytes.
public enum SafeTensorsChecksum {
    public static func crc32(_ p: UnsafeRawPointer?, count: Int) -> UInt32 {
        var crc = CZlib.crc32(0, nil, 0)
        var off = 0
        while off < count {   // zlib takes a 32-bit length
            let n = min(count - off, 1 << 30)
            crc = CZlib.crc32(crc, p!.advanced(by: off).assumingMemoryBound(to: UInt8.self), uInt(n))
            off += n
        }
        return UInt32(crc)
    }
}

public enum AtomicFile {
    /// temp file in the same folder → write → fsync → rename → fsync(folder).
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { emit in data.withUnsafeBytes(emit) }
    }

    /// The same, with the bytes handed to `emit` by `body` in order (streamed, never gathered).
    public static func write(to path: String, _ body: ((UnsafeRawBufferPointer) -> Void) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw SafeTensorsError.io("cannot create \(tmp): \(String(cString: strerror(errno)))") }
        var ok = true
        do {
            try body { raw in
                var off = 0
                while ok && off < raw.count {
                    let w = Foundation.write(fd, raw.baseAddress! + off, raw.count - off)
                    if w <= 0 { ok = false } else { off += w }
                }
            }
        } catch { close(fd); unlink(tmp); throw error }
        if ok { ok = fsync(fd) == 0 }
        close(fd)
        guard ok else { unlink(tmp); throw SafeTensorsError.io("writing \(tmp) failed: \(String(cString: strerror(errno)))") }
        guard rename(tmp, path) == 0 else { throw SafeTensorsError.io("cannot rename \(tmp) to \(path): \(String(cString: strerror(errno)))") }
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}
