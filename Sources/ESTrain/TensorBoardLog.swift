// TensorBoard scalars beside log.txt (rank 0): every number a log.txt record holds, at step =
// iteration, under grouped tags (loss/, schedule/, teacher/, speed/, eval/, epoch/), in one event
// file per process start: events.out.tfevents.<unix time>.<host>.<pid>.0 (EventFile's format).
// `tensorboard --logdir OUTPUT_DIR` (or its parent) shows them.
//
// Resume: a run continued from its checkpoint at iteration R recomputes R+1… exactly as before
// (same seed, same world size), so the steps an earlier file of the folder already holds for a
// tag are not written again; the step axis simply continues. A fresh run (R = 0) writes every
// step; TensorBoard then shows the new run's values, as it does after any restart.
import Foundation

public final class TensorBoardLog {
    public let dir: String
    let wallClock: () -> Double
    let resumedAt: Int
    private var handle: FileHandle?
    private var earlier: [String: Int64] = [:]   // tag → largest step in the folder's earlier files
    public private(set) var path: String?
    public private(set) var failure: String?

    /// `resumedAt`: the iteration the run starts from (0 for a fresh run).
    public init(dir: String, resumedAt: Int, wallClock: @escaping () -> Double = { Date().timeIntervalSince1970 }) {
        self.dir = dir; self.resumedAt = resumedAt; self.wallClock = wallClock
    }

    deinit { try? handle?.close() }

    /// Every numeric field of one log.txt record as scalars at `step` (fields without a tag are left out).
    public func write(step: Int, fields: [String: Any]) {
        for key in fields.keys.sorted() {
            guard let tag = TensorBoardLog.tag(key), let v = fields[key].flatMap(TensorBoardLog.number) else { continue }
            add(tag, Float(v), step: step)
        }
    }

    public func add(_ tag: String, _ value: Float, step: Int) {
        guard openIfNeeded() else { return }
        if resumedAt > 0, let last = earlier[tag], Int64(step) <= last { return }
        append(EventFile.Event(wallTime: wallClock(), step: Int64(step), scalars: [(tag, value)]))
    }

    static let fileStem = "events.out.tfevents."

    /// Creates this process's file (and reads the steps earlier files hold) on first use.
    private func openIfNeeded() -> Bool {
        if handle != nil { return true }
        if failure != nil { return false }
        let fm = FileManager.default
        if resumedAt > 0 {
            for name in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []) where name.hasPrefix(TensorBoardLog.fileStem) {
                guard let d = fm.contents(atPath: (dir as NSString).appendingPathComponent(name)),
                      let events = try? EventFile.read(Array(d)) else { continue }
                for e in events { for s in e.scalars { earlier[s.tag] = max(earlier[s.tag] ?? .min, e.step) } }
            }
        }
        let now = wallClock()
        var name = String(format: "%@%010d.%@.%d.0", TensorBoardLog.fileStem, Int(now), ProcessInfo.processInfo.hostName, getpid())
        while fm.fileExists(atPath: (dir as NSString).appendingPathComponent(name)) { name += "_" }
        let p = (dir as NSString).appendingPathComponent(name)
        guard fm.createFile(atPath: p, contents: nil), let h = FileHandle(forWritingAtPath: p) else {
            failure = "cannot create the TensorBoard event file \(p)"
            return false
        }
        handle = h; path = p
        append(EventFile.Event(wallTime: now, fileVersion: EventFile.version, writer: "esvit-swift"))
        return true
    }

    private func append(_ e: EventFile.Event) {
        do { try handle?.write(contentsOf: Data(EventFile.record(EventFile.encode(e)))) } catch {
            failure = "cannot write \(path ?? dir): \(error.localizedDescription)"; handle = nil
        }
    }

    // MARK: tags

    static func number(_ v: Any) -> Double? {
        switch v {
        case let d as Double: return d
        case let f as Float: return Double(f)
        case let i as Int: return Double(i)
        default: return nil
        }
    }

    /// The tag of a log.txt field, or nil for fields that are not measurements (counts of images, k).
    public static func tag(_ key: String) -> String? {
        if untagged.contains(key) { return nil }
        if let t = named[key] { return t }
        if key.hasPrefix("teacher_") || key.hasPrefix("kl_") { return "teacher/" + key.replacingOccurrences(of: "teacher_", with: "") }
        if speed.contains(key) { return "speed/" + key }
        return "train/" + key
    }

    static let untagged: Set<String> = ["iteration", "epoch", "knn_k", "knn_train_images", "knn_test_images", "corr_images", "planned_iterations"]
    static let speed: Set<String> = ["img_per_s", "data_wait_pct", "allreduce_pct", "rank_wait_pct", "compute_pct", "step_s", "eta_s"]
    static let named: [String: String] = [
        "loss": "loss/total", "loss_view": "loss/view", "loss_region": "loss/region",
        "lr": "schedule/lr", "wd": "schedule/weight_decay", "momentum": "schedule/teacher_momentum", "teacher_temp": "schedule/teacher_temp",
        "knn_top1": "eval/knn_top1", "corr_acc": "eval/correspondence_acc", "corr_dist_px": "eval/correspondence_dist_px", "eval_s": "eval/seconds",
        "train_loss": "epoch/mean_loss", "train_lr": "epoch/mean_lr", "train_wd": "epoch/mean_weight_decay", "replaced_images": "epoch/replaced_images",
    ]
}
