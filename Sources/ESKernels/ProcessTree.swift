// The Linux process tree as /proc shows it: the processes below a pid, and their peak resident
// sets (VmHWM). The benchmarks sample a job's tree (mpirun and its ranks, torchrun and its
// workers, DataLoader workers) for its peak memory; the tests kill a job's whole tree when it
// does not stop in time.
import Foundation

public enum ProcessTree {
    /// The processes below `pid` (children, their children, …).
    public static func descendants(of pid: Int32) -> [Int32] {
        var parent: [Int32: Int32] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces, so read after the last ')'.
            guard let q = Int32(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let pp = Int32(fields[1]) { parent[q] = pp }
        }
        let children = Dictionary(grouping: parent.keys) { parent[$0]! }
        var out: [Int32] = [], frontier = [pid]
        while let x = frontier.popLast() {
            let kids = children[x] ?? []
            out += kids; frontier += kids
        }
        return out
    }

    /// SIGKILL to `pid` and every process below it.
    public static func killTree(_ pid: Int32) {
        for q in descendants(of: pid) + [pid] { kill(q, SIGKILL) }
    }

    /// A process's peak resident set so far (VmHWM), in bytes; nil once it has gone.
    public static func peakResidentBytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return nil }
        return kib * 1024
    }
}

/// Samples the peak resident set of every process of a tree (the root included) every `interval`
/// seconds on a background thread, until `stop()`: the largest process's peak and the sum of all
/// processes' peaks. A process's growth after the last sample before it exits is missed (at most
/// one interval's worth).
public final class TreeMemorySampler: @unchecked Sendable {
    private let root: Int32, interval: TimeInterval
    private var peaks: [Int32: Int] = [:], running = true
    private let lock = NSLock(), done = DispatchSemaphore(value: 0)

    public init(root: Int32, interval: TimeInterval = 0.1) {
        self.root = root; self.interval = interval
        Thread.detachNewThread { [self] in
            while lock.withLock({ running }) {
                sample()
                Thread.sleep(forTimeInterval: interval)
            }
            done.signal()
        }
    }

    private func sample() {
        for pid in [root] + ProcessTree.descendants(of: root) {
            guard let b = ProcessTree.peakResidentBytes(pid) else { continue }
            lock.withLock { peaks[pid] = max(peaks[pid] ?? 0, b) }
        }
    }

    /// Stops sampling; returns (largest process, all processes) in bytes.
    public func stop() -> (largest: Int, total: Int) {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { (peaks.values.max() ?? 0, peaks.values.reduce(0, +)) }
    }
}
