// Aligned, manually managed Float/Double/Int32 storage used for parameter arenas, gradient
// arenas and activation workspaces. A `FloatBuffer` owns its memory; kernels only ever see raw
// pointers and counts, so no ARC or bounds checks happen inside loops.
import Foundation

public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// Zero-initialised, 64-byte aligned storage for `count` floats.
    public init(count: Int) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let b = src.baseAddress { pointer.update(from: b, count: values.count) }
        }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    public func zero() { pointer.update(repeating: 0, count: count) }
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}

/// Bytes rendered for humans (start-up memory reports).
public func formatMiB(_ bytes: Int) -> String {
    String(format: "%.1f MiB", Double(bytes) / 1_048_576)
}
