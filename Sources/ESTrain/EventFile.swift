// TensorBoard's event-file format, written and read natively (no TensorFlow, no protobuf library):
//   file   = record*
//   record = length (UInt64 LE) · masked CRC-32C of the length bytes (UInt32 LE) · data · masked CRC-32C of data
//   masked(crc) = ((crc >> 15) | (crc << 17)) &+ 0xa282ead8
// `data` is a serialized tensorflow.Event (proto3): wall_time = 1 (double), step = 2 (int64),
// file_version = 3 (string), summary = 5 (Summary { repeated Value value = 1 }),
// source_metadata = 10 (SourceMetadata { writer = 1 (string) }), and
// Summary.Value { tag = 1 (string), simple_value = 2 (float) }. Proto3 leaves zero scalars out;
// simple_value sits in a oneof and is always written. The first event of a file carries
// file_version "brain.Event:2", as TensorBoard's own writer does.
import Foundation

public enum EventFile {
    /// One event as written here: either the file-version header or one scalar.
    public struct Event: Equatable {
        public var wallTime: Double
        public var step: Int64
        public var fileVersion: String?
        public var writer: String?
        public var scalars: [(tag: String, value: Float)]
        public init(wallTime: Double, step: Int64 = 0, fileVersion: String? = nil, writer: String? = nil, scalars: [(tag: String, value: Float)] = []) {
            self.wallTime = wallTime; self.step = step; self.fileVersion = fileVersion; self.writer = writer; self.scalars = scalars
        }
        public static func == (a: Event, b: Event) -> Bool {
            a.wallTime == b.wallTime && a.step == b.step && a.fileVersion == b.fileVersion && a.writer == b.writer
                && a.scalars.map(\.tag) == b.scalars.map(\.tag) && a.scalars.map(\.value.bitPattern) == b.scalars.map(\.value.bitPattern)
        }
    }

    public static let version = "brain.Event:2"

    // MARK: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78)

    static let crcTable: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    public static func crc32c<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    public static func maskedCRC<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        let c = crc32c(bytes)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }

    // MARK: writing

    /// One framed record around `data`.
    public static func record(_ data: [UInt8]) -> [UInt8] {
        let length = littleEndian(UInt64(data.count))
        return length + littleEndian(maskedCRC(length)) + data + littleEndian(maskedCRC(data))
    }

    /// The serialized Event.
    public static func encode(_ e: Event) -> [UInt8] {
        var out: [UInt8] = []
        if e.wallTime != 0 { key(1, wire: 1, &out); out += littleEndian(e.wallTime.bitPattern) }
        if e.step != 0 { key(2, wire: 0, &out); varint(UInt64(bitPattern: e.step), &out) }
        if let v = e.fileVersion { lengthDelimited(3, Array(v.utf8), &out) }
        if !e.scalars.isEmpty {
            var summary: [UInt8] = []
            for s in e.scalars {
                var value: [UInt8] = []
                lengthDelimited(1, Array(s.tag.utf8), &value)
                key(2, wire: 5, &value); value += littleEndian(s.value.bitPattern)
                lengthDelimited(1, value, &summary)
            }
            lengthDelimited(5, summary, &out)
        }
        if let w = e.writer {
            var source: [UInt8] = []
            lengthDelimited(1, Array(w.utf8), &source)
            lengthDelimited(10, source, &out)
        }
        return out
    }

    static func key(_ field: UInt64, wire: UInt64, _ out: inout [UInt8]) { varint(field << 3 | wire, &out) }

    static func varint(_ v: UInt64, _ out: inout [UInt8]) {
        var v = v
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    static func lengthDelimited(_ field: UInt64, _ bytes: [UInt8], _ out: inout [UInt8]) {
        key(field, wire: 2, &out); varint(UInt64(bytes.count), &out); out += bytes
    }

    static func littleEndian<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    // MARK: reading

    public enum ReadError: Error, CustomStringConvertible {
        case corrupt(String)
        public var description: String { if case .corrupt(let s) = self { return "event file: \(s)" }; return "" }
    }

    /// The events of a file, in order. A record cut short at the end (a writer that died
    /// mid-record) ends the list; a CRC mismatch anywhere else is an error.
    public static func read(_ bytes: [UInt8]) throws -> [Event] {
        var events: [Event] = [], at = 0
        while at + 12 <= bytes.count {
            let lengthBytes = bytes[at..<at + 8]
            guard UInt32(littleEndianValue(bytes[...], at + 8, 4)) == maskedCRC(lengthBytes) else { throw ReadError.corrupt("length CRC mismatch at byte \(at)") }
            let length = lengthBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard bytes.count - at >= 16, length <= UInt64(bytes.count - at - 16) else { break }
            let n = Int(length)
            let data = Array(bytes[at + 12..<at + 12 + n])
            guard UInt32(littleEndianValue(bytes[...], at + 12 + n, 4)) == maskedCRC(data) else { throw ReadError.corrupt("data CRC mismatch at byte \(at)") }
            events.append(try decode(data))
            at += 12 + n + 4
        }
        return events
    }

    /// The `count`-byte little-endian number at `at` (the caller checked the bounds).
    static func littleEndianValue(_ b: ArraySlice<UInt8>, _ at: Int, _ count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
    }

    /// Decodes the Event fields written here; other fields are skipped.
    static func decode(_ data: [UInt8]) throws -> Event {
        var e = Event(wallTime: 0)
        try fields(data[...]) { field, wire, payload, number in
            switch (field, wire) {
            case (1, 1): e.wallTime = Double(bitPattern: number)
            case (2, 0): e.step = Int64(bitPattern: number)
            case (3, 2): e.fileVersion = String(decoding: payload, as: UTF8.self)
            case (10, 2): try fields(payload) { f, w, p, _ in if f == 1, w == 2 { e.writer = String(decoding: p, as: UTF8.self) } }
            case (5, 2):
                try fields(payload) { f, w, value, _ in
                    guard f == 1, w == 2 else { return }
                    var tag = "", v: Float?
                    try fields(value) { vf, vw, p, n in
                        if vf == 1, vw == 2 { tag = String(decoding: p, as: UTF8.self) }
                        if vf == 2, vw == 5 { v = Float(bitPattern: UInt32(truncatingIfNeeded: n)) }
                    }
                    if let v { e.scalars.append((tag, v)) }
                }
            default: break
            }
        }
        return e
    }

    /// Walks the fields of one message: (field, wire type, bytes of a length-delimited field, number of a fixed/varint field).
    static func fields(_ m: ArraySlice<UInt8>, _ body: (UInt64, UInt64, ArraySlice<UInt8>, UInt64) throws -> Void) throws {
        var at = m.startIndex
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard at < m.endIndex, shift < 64 else { throw ReadError.corrupt("varint runs past the message") }
                let b = m[at]; at += 1
                v |= UInt64(b & 0x7F) << shift; shift += 7
                if b < 0x80 { return v }
            }
        }
        func fixed(_ n: Int) throws -> UInt64 {
            guard at + n <= m.endIndex else { throw ReadError.corrupt("fixed field runs past the message") }
            defer { at += n }
            return littleEndianValue(m, at, n)
        }
        while at < m.endIndex {
            let k = try varint(), field = k >> 3, wire = k & 7
            switch wire {
            case 0: try body(field, wire, [], try varint())
            case 1: try body(field, wire, [], try fixed(8))
            case 5: try body(field, wire, [], try fixed(4))
            case 2:
                let length = try varint()
                guard length <= UInt64(m.endIndex - at) else { throw ReadError.corrupt("field \(field) runs past the message") }
                let n = Int(length)
                let payload = m[at..<at + n]; at += n
                try body(field, wire, payload, 0)
            default: throw ReadError.corrupt("wire type \(wire) of field \(field) is not supported")
            }
        }
    }
}
