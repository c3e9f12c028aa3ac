// The ZIP container of PyTorch's torch.save files (since torch 1.6): entries stored without
// compression under one top folder (`NAME/data.pkl`, `NAME/data/0`, …, `NAME/version`). Entries are
// found through the central directory (ZIP64 records included, for files past 4 GiB) and read as
// slices of the memory-mapped file, each checked against its CRC-32 when it is read (files saved
// with torch's CRCs switched off store 0: not checked, and reported). Only the "stored" method is
// accepted (torch never compresses).
import Foundation

public enum TorchFileError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String { if case .invalid(let m) = self { return m }; return "" }
}

struct TorchZip {
    let data: Data
    /// Entry name → (offset of its bytes in `data`, size, the CRC-32 the directory stores).
    let entries: [String: (offset: Int, size: Int, crc: UInt32)]
    /// Whether an entry has a stored CRC of 0 (torch.serialization.set_crc32_options(False)).
    var lacksChecksums: Bool { entries.values.contains { $0.crc == 0 && $0.size > 0 } }

    init(path: String) throws {
        guard let d = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw TorchFileError.invalid("\(path): cannot read the file")
        }
        try self.init(data: d, name: path)
    }

    init(data d: Data, name: String) throws {
        data = d
        func u16(_ o: Int) -> Int { Int(d[d.startIndex + o]) | Int(d[d.startIndex + o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> Int { u32(o) | u32(o + 4) << 32 }
        let n = d.count
        if n >= 2, d[d.startIndex] == 0x80 {
            throw TorchFileError.invalid("\(name) is a legacy (pre-1.6) torch.save file, not a ZIP archive; load it in Python and save it again with torch.save (torch ≥ 1.6)")
        }
        // End of central directory: the last "PK\5\6" within 64 KiB + 22 bytes of the end.
        var eocd = -1
        var o = n - 22
        while o >= max(0, n - 22 - 65_535) {
            if u32(o) == 0x0605_4b50 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw TorchFileError.invalid("\(name) is not a ZIP archive (no end-of-central-directory record); is it a torch.save file?") }
        var count = u16(eocd + 10), cdOffset = u32(eocd + 16)
        if eocd >= 20, u32(eocd - 20) == 0x0706_4b50 {            // ZIP64 locator → ZIP64 end record
            let z = u64(eocd - 20 + 8)
            guard z + 56 <= n, u32(z) == 0x0606_4b50 else { throw TorchFileError.invalid("\(name): damaged ZIP64 record") }
            count = u64(z + 32); cdOffset = u64(z + 48)
        }
        var map: [String: (Int, Int, UInt32)] = [:]
        var p = cdOffset
        for _ in 0..<count {
            guard p + 46 <= n, u32(p) == 0x0201_4b50 else { throw TorchFileError.invalid("\(name): damaged ZIP central directory") }
            let method = u16(p + 10), nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32)
            var size = u32(p + 24), local = u32(p + 42)
            guard p + 46 + nameLen + extraLen <= n else { throw TorchFileError.invalid("\(name): damaged ZIP central directory") }
            let entry = String(decoding: d[(d.startIndex + p + 46)..<(d.startIndex + p + 46 + nameLen)], as: UTF8.self)
            // ZIP64 extra field: the 8-byte values replace the 32-bit fields that read 0xFFFFFFFF, in order.
            var e = p + 46 + nameLen
            while e + 4 <= p + 46 + nameLen + extraLen {
                let id = u16(e), len = u16(e + 2)
                if id == 1 {
                    var f = e + 4
                    if size == 0xFFFF_FFFF { size = u64(f); f += 8 }
                    if u32(p + 20) == 0xFFFF_FFFF { f += 8 }
                    if local == 0xFFFF_FFFF { local = u64(f) }
                }
                e += 4 + len
            }
            guard method == 0 else { throw TorchFileError.invalid("\(name): entry \(entry) is compressed (method \(method)); torch.save files store entries uncompressed") }
            guard local + 30 <= n, u32(local) == 0x0403_4b50 else { throw TorchFileError.invalid("\(name): damaged ZIP local header for \(entry)") }
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            guard start + size <= n else { throw TorchFileError.invalid("\(name): entry \(entry) runs past the end of the file (truncated?)") }
            map[entry] = (start, size, UInt32(u32(p + 16)))
            p += 46 + nameLen + extraLen + commentLen
        }
        entries = map
    }

    /// The bytes of `name` (nil: no such entry), checked against the entry's CRC-32 unless the
    /// writer stored none (0).
    func bytes(_ name: String, file: String) throws -> Data? {
        guard let (o, s, stored) = entries[name] else { return nil }
        let bytes = data[(data.startIndex + o)..<(data.startIndex + o + s)]
        if stored != 0 {
            let crc = bytes.withUnsafeBytes { SafeTensorsChecksum.crc32($0.baseAddress, count: s) }
            guard crc == stored else {
                throw TorchFileError.invalid(String(format: "%@: entry %@ fails its CRC-32 check (stored %08x, data gives %08x): the file is damaged; copy it again",
                                                    file, name, stored, crc))
            }
        }
        return bytes
    }
}
