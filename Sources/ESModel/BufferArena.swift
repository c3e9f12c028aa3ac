// Declared buffers in one arena: a table of entries (name, shape, lifetime) laid out at
// 64-byte-aligned offsets (BufferLayout, which also prints a per-entry memory report without
// allocating anything) and held in a zeroed allocation (BufferArena).
// An entry whose lifetime is per instance (.perBlock, .perMerge) gets a region of its own; all
// other entries with the same name share one region, sized for the largest of them.
// Transient regions (.shared, .scratch) hold nothing from one forward or backward call to the
// next, so arenas used one call at a time (EsViT's teacher and student workspaces) may lay them
// over the same bytes: a TransientPool, sized for the largest of them. Without a pool they follow
// the kept regions in the arena's own allocation.
import ESKernels
import Foundation

public enum BufferLifetime: String, Sendable {
    /// One instance for the whole pass (patch embedding, final LayerNorm, pooled output).
    case once
    /// One instance per Swin block, kept from forward to backward (training).
    case perBlock
    /// One instance per patch merging, kept from forward to backward (training).
    case perMerge
    /// One instance reused by every block or merge that declares it (inference activations).
    case shared
    /// Backward scratch, one instance reused by every block and merge (training).
    case scratch

    var perInstance: Bool { self == .perBlock || self == .perMerge }
    /// Holds nothing between calls: may live in a TransientPool shared with other arenas.
    public var transient: Bool { self == .shared || self == .scratch }
}

/// One declared buffer: `shape` in elements, `label` its symbolic form, e.g. "(B·L, C)".
public struct BufferEntry: Sendable {
    public let name: String
    public let shape: [Int]
    public let label: String
    public let lifetime: BufferLifetime
    /// Block index or stage for per-instance lifetimes; ignored for the others.
    public let instance: Int
    public let elementBytes: Int
    public var bytes: Int { shape.reduce(1, *) * elementBytes }

    public init(_ name: String, _ shape: [Int], _ label: String, _ lifetime: BufferLifetime,
                instance: Int = 0, elementBytes: Int = MemoryLayout<Float>.stride) {
        self.name = name; self.shape = shape; self.label = label; self.lifetime = lifetime
        self.instance = instance; self.elementBytes = elementBytes
    }
}

/// Where one region of the arena lies and what it serves.
public struct BufferRegion: Sendable {
    /// The largest entry the region serves (name, shape, label, lifetime).
    public let entry: BufferEntry
    public let offset: Int, bytes: Int
    /// Number of entries served (more than one for shared regions).
    public let users: Int
}

/// Where every region of a table lies, without allocating: the offsets, the total and the report.
public struct BufferLayout: Sendable {
    public static let alignment = 64
    /// Kept regions, then transient ones, each in order of first declaration; offsets ascend.
    public let regions: [BufferRegion]
    /// Bytes of the arena: the regions plus alignment padding.
    public let totalBytes: Int
    /// Where the transient regions begin: the bytes of the kept ones (with padding).
    public let transientStart: Int
    /// Bytes of the transient regions (with padding): what a TransientPool must hold for this layout.
    public var transientBytes: Int { totalBytes - transientStart }
    private let index: [Key: Int]

    struct Key: Hashable { let name: String; let instance: Int? }

    /// Merges entries into regions (per-instance entries stay apart, shared ones take the max)
    /// and assigns aligned offsets in order of first declaration.
    public init(_ entries: [BufferEntry]) {
        var index: [Key: Int] = [:], largest: [BufferEntry] = [], users: [Int] = []
        var lifetimes: [String: (BufferLifetime, Int)] = [:]
        for e in entries {
            let kind = lifetimes[e.name] ?? (e.lifetime, e.elementBytes)
            precondition(kind == (e.lifetime, e.elementBytes), "buffer \(e.name) is declared with two lifetimes or element sizes")
            lifetimes[e.name] = kind
            let key = Key(name: e.name, instance: e.lifetime.perInstance ? e.instance : nil)
            if let r = index[key] {
                precondition(!e.lifetime.perInstance, "buffer \(e.name) #\(e.instance) is declared twice")
                if e.bytes > largest[r].bytes { largest[r] = e }
                users[r] += 1
            } else {
                index[key] = largest.count; largest.append(e); users.append(1)
            }
        }
        var offset = 0, regions = [BufferRegion](), at = [Int](repeating: 0, count: largest.count), start = 0
        for transient in [false, true] {
            if transient { start = offset }
            for (r, (e, n)) in zip(largest, users).enumerated() where e.lifetime.transient == transient {
                at[r] = regions.count
                regions.append(BufferRegion(entry: e, offset: offset, bytes: e.bytes, users: n))
                offset = BufferLayout.aligned(offset + e.bytes)
            }
        }
        self.regions = regions; self.index = index.mapValues { at[$0] }; totalBytes = offset; transientStart = start
    }

    static func aligned(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// The region of `name` (for per-instance lifetimes, of that block or stage).
    public func region(_ name: String, _ instance: Int = 0) -> BufferRegion {
        guard let r = index[Key(name: name, instance: instance)] ?? index[Key(name: name, instance: nil)] else {
            preconditionFailure("no buffer \(name) #\(instance) was declared")
        }
        return regions[r]
    }
}

/// Zeroed, aligned bytes for the transient regions of several arenas that are used one call at
/// a time (none may run while another's forward or backward is under way).
public final class TransientPool: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let bytes: Int

    /// A pool for every layout given (sized for the largest transient part).
    public init(for layouts: [BufferLayout]) {
        bytes = layouts.map(\.transientBytes).max() ?? 0
        let n = max(bytes, BufferLayout.alignment)
        base = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: BufferLayout.alignment)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: n)
    }

    deinit { base.deallocate() }
}

/// One zeroed, aligned allocation holding every region of a layout, or its kept regions only
/// when the transient ones live in a TransientPool.
public final class BufferArena: @unchecked Sendable {
    public let layout: BufferLayout
    public let base: UnsafeMutableRawPointer
    /// Where the transient regions live when they are not in this arena's own allocation.
    public let pool: TransientPool?
    public var totalBytes: Int { layout.totalBytes }
    /// Bytes this arena allocated itself (all of them without a pool, the kept regions with one).
    public var ownedBytes: Int { pool == nil ? layout.totalBytes : layout.transientStart }

    public init(_ layout: BufferLayout, transient pool: TransientPool? = nil) {
        if let pool { precondition(pool.bytes >= layout.transientBytes, "a transient pool of \(pool.bytes) bytes cannot hold \(layout.transientBytes)") }
        self.layout = layout; self.pool = pool
        let n = max(pool == nil ? layout.totalBytes : layout.transientStart, BufferLayout.alignment)
        base = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: BufferLayout.alignment)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: n)
    }

    public convenience init(_ entries: [BufferEntry]) { self.init(BufferLayout(entries)) }

    deinit { base.deallocate() }

    /// The first byte of a region: in the pool for transient regions when there is one.
    public func address(of r: BufferRegion) -> UnsafeMutableRawPointer {
        if let pool, r.entry.lifetime.transient { return pool.base + (r.offset - layout.transientStart) }
        return base + r.offset
    }

    public func pointer<T>(_ name: String, _ instance: Int = 0, as type: T.Type) -> UnsafeMutablePointer<T> {
        let r = layout.region(name, instance)
        precondition(r.entry.elementBytes == MemoryLayout<T>.stride, "buffer \(name) does not hold \(T.self)")
        return address(of: r).bindMemory(to: T.self, capacity: max(r.bytes / MemoryLayout<T>.stride, 1))
    }

    public func floats(_ name: String, _ instance: Int = 0) -> UnsafeMutablePointer<Float> {
        pointer(name, instance, as: Float.self)
    }
}

extension BufferLayout {
    /// One row per buffer name and lifetime (grouped by lifetime, then in order of declaration):
    /// symbolic shape with the largest concrete shape, lifetime, regions allocated and entries
    /// served, bytes and share of the arena; then the alignment padding and the total.
    public func report(title: String) -> String {
        typealias Row = (largest: BufferRegion, regions: Int, users: Int, bytes: Int)
        var order: [String] = [], rows: [String: Row] = [:]
        for r in regions {
            let key = r.entry.name + "/" + r.entry.lifetime.rawValue
            if let row = rows[key] {
                rows[key] = (r.bytes > row.largest.bytes ? r : row.largest, row.regions + 1, row.users + r.users, row.bytes + r.bytes)
            } else {
                order.append(key); rows[key] = (r, 1, r.users, r.bytes)
            }
        }
        let lifetimes: [BufferLifetime] = [.once, .perBlock, .perMerge, .shared, .scratch]
        func rank(_ key: String) -> Int { lifetimes.firstIndex(of: rows[key]!.largest.entry.lifetime)! }
        func share(_ n: Int) -> String { String(format: "%.1f%%", 100 * Double(n) / Double(max(totalBytes, 1))) }
        var cells = [["buffer", "shape (largest)", "lifetime", "regions", "users", "bytes", "share"]]
        for key in order.enumerated().sorted(by: { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }).map(\.element) {
            let row = rows[key]!, e = row.largest.entry
            cells.append([e.name, e.label + " " + e.shape.map(String.init).joined(separator: "×"), e.lifetime.rawValue,
                          "\(row.regions)", "\(row.users)", humanBytes(row.bytes), share(row.bytes)])
        }
        let padding = totalBytes - regions.reduce(0) { $0 + $1.bytes }
        cells.append(["(padding)", "", "", "", "", humanBytes(padding), share(padding)])
        cells.append(["total", "", "", "\(regions.count)", "\(regions.reduce(0) { $0 + $1.users })", humanBytes(totalBytes), share(totalBytes)])
        let widths = (0..<7).map { c in cells.map { $0[c].count }.max()! }
        let lines = cells.map { row in
            "  " + row.enumerated().map { c, text in
                let pad = String(repeating: " ", count: widths[c] - text.count)
                return c < 3 ? text + pad : pad + text
            }.joined(separator: "  ")
        }
        let head = "\(title): \(formatMiB(totalBytes)) (\(totalBytes) bytes) in one arena, \(regions.count) regions, \(BufferLayout.alignment)-byte aligned"
        return ([head] + lines).joined(separator: "\n")
    }
}

/// 512 B, 9.4 KiB, 48.0 MiB.
func humanBytes(_ n: Int) -> String {
    if n < 1024 { return "\(n) B" }
    if n < 1_048_576 { return String(format: "%.1f KiB", Double(n) / 1024) }
    return formatMiB(n)
}
