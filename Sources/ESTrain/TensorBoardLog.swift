// TensorBoard scalars beside log.txt (rank 0): every number a log.txt record holds, at step =
// iteration, under grouped tags (loss/, schedule/, teacher/, speed/, eval/, epoch/), in one event
// file per process start: events.out.tfevents.<unix time>.<host>.<pid>.0 (EventFile's format).
// `tensorboard --logdir OUTPUT_DIR` (or its parent) shows them.
//
// Resume: the event files of a folder describe the run its checkpoint holds. When a run starts
// from iteration R (its checkpoint's; 0 for a fresh run), the scalars earlier files hold after R
// (a crashed run logs past its last checkpoint) are removed from them (each file rewritten
// atomically; an unreadable file is left alone), and the new file continues the step axis from
// R + 1: no step appears twice, and every step shown after R is this run's.
import ESModel
import Foundation

public final class TensorBoardLog {
    public let dir: String
    let wallClock: () -> Double
    let resumedAt: Int
    private var handle: FileHandle?
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
        append(EventFile.Event(wallTime: wallClock(), step: Int64(step), scalars: [(tag, value)]))
    }

    static let fileStem = "events.out.tfevents."

    /// Creates this process's file on first use, after cutting earlier files back to the start.
    private func openIfNeeded() -> Bool {
        if handle != nil { return true }
        if failure != nil { return false }
        let fm = FileManager.default
        for name in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() where name.hasPrefix(TensorBoardLog.fileStem) {
            TensorBoardLog.cut((dir as NSString).appendingPathComponent(name), after: resumedAt)
        }
        let now = wallClock()
        var name = TensorBoardLog.fileStem + String(format: "%010ld", Int(now)) + ".\(ProcessInfo.processInfo.hostName).\(getpid()).0"
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

    /// Removes from an event file the scalar events after iteration `start` (all of them when
    /// `start` is 0: a fresh run logs iteration 0 again). Files that cannot be read stay as they are.
    static func cut(_ path: String, after start: Int) {
        guard let d = FileManager.default.contents(atPath: path), let events = try? EventFile.read(Array(d)) else { return }
        let kept = events.filter { $0.scalars.isEmpty || (start > 0 && $0.step <= Int64(start)) }
        guard kept.count < events.count else { return }
        try? AtomicFile.write(Data(kept.flatMap { EventFile.record(EventFile.encode($0)) }), to: path)
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
