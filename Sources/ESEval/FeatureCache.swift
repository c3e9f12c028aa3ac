// The feature cache of the evaluation commands: train and test features as .npy files plus a
// key file naming what they were computed from (network, input size, data, subsets, the
// checkpoint's size and time); a different key means the cache is recomputed.
import ESKernels
import ESModel
import Foundation

/// Features as .npy files plus a key file naming what they were computed from.
struct FeatureCache {
    let dir: String, key: String
    func path(_ n: String) -> String { (dir as NSString).appendingPathComponent(n) }

    func load() -> (Features, Features)? {
        guard let k = try? String(contentsOfFile: path("features.key"), encoding: .utf8), k == key else { return nil }
        func part(_ name: String) -> Features? {
            guard let f = try? Npy.read(path(name + "_features.npy")), let l = try? Npy.read(path(name + "_labels.npy")),
                  f.shape.count == 2, l.data.count == f.shape[0] else { return nil }
            let buf = FloatBuffer(count: f.data.count)
            f.data.withUnsafeBufferPointer { buf.pointer.update(from: $0.baseAddress!, count: f.data.count) }
            return Features(values: buf, count: f.shape[0], dim: f.shape[1], labels: l.data.map { Int32($0) }, unreadable: 0)
        }
        guard let a = part("train"), let b = part("test") else { return nil }
        return (a, b)
    }

    func save(_ train: Features, _ test: Features) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, f) in [("train", train), ("test", test)] {
            try Npy.write(NpyArray(shape: [f.count, f.dim], data: Array(UnsafeBufferPointer(start: f.values.pointer, count: f.count * f.dim))),
                          to: path(name + "_features.npy"))
            try Npy.write(NpyArray(shape: [f.count], data: f.labels.map(Float.init)), to: path(name + "_labels.npy"))
        }
        try AtomicFile.write(Data(key.utf8), to: path("features.key"))
    }
}
