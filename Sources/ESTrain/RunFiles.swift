// The output folder of a run (rank 0 only): checkpoint names, stale temp-file cleanup, the
// resolved configuration (config.json) and DINO's log.txt of JSON lines.
//   checkpoint.safetensors          latest state (every --saveckp-iters iterations, epoch ends, the end)
//   checkpoint<EPOCH>.safetensors   after every --saveckp-freq epochs (EPOCH = epochs completed, 4 digits)
//   config.json, log.txt
//   run.lock                        held by the run writing the folder (RunLock)
import ESModel
import Foundation

public struct RunFiles: Sendable {
    public let dir: String
    public init(dir: String) { self.dir = dir }

    public var latestCheckpoint: String { path("checkpoint.safetensors") }
    public func epochCheckpoint(_ epochsDone: Int) -> String { path(String(format: "checkpoint%04d.safetensors", epochsDone)) }
    /// The refusal of a file option that names nothing there (`--resume-from`, `--resume` without
    /// a checkpoint in this folder, `--init-from`), or nil.
    public func missingInput(resume: Bool, resumeFrom: String?, initFrom: String?) -> String? {
        let fm = FileManager.default
        let resumeFlag = option(\.resume), resumeFromFlag = option(\.resumeFrom)
        if let r = resumeFrom, !fm.fileExists(atPath: r) { return "\(resumeFromFlag) \(r) does not exist" }
        if resume, resumeFrom == nil, !fm.fileExists(atPath: latestCheckpoint) {
            return "\(resumeFlag) needs a checkpoint to continue from, and \(latestCheckpoint) does not exist (drop \(resumeFlag) to start a new run there, "
                + "or give \(resumeFromFlag) FILE)"
        }
        if let f = initFrom, !fm.fileExists(atPath: f) { return "\(option(\.config.initFrom)) \(f) does not exist" }
        return nil
    }
    public var configFile: String { path("config.json") }
    public var logFile: String { path("log.txt") }
    public func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

    /// Creates the folder, locks it for this run (see RunLock) and removes temp files an
    /// interrupted write left behind (only once locked: they may be another live run's).
    public func prepare() throws -> (lock: RunLock, stale: [String]) {
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw TrainError.config("cannot create \(option(\.config.outputDir)) \(dir): \(error.localizedDescription)")
        }
        guard fm.isWritableFile(atPath: dir) else { throw TrainError.config("\(option(\.config.outputDir)) \(dir) is not writable") }
        let lock = try RunLock(dir: dir)
        let stale = ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".tmp") }.sorted()
        for name in stale { try? fm.removeItem(atPath: path(name)) }
        return (lock, stale)
    }

    /// Writes `text` atomically (temp file, fsync, rename, folder fsync).
    public func writeAtomically(_ text: String, to file: String) throws {
        try AtomicFile.write(Data(text.utf8), to: file)
    }

    /// Appends one line to log.txt.
    public func appendLog(_ line: String) {
        let url = URL(fileURLWithPath: logFile)
        if !FileManager.default.fileExists(atPath: logFile) { _ = FileManager.default.createFile(atPath: logFile, contents: nil) }
        guard let h = try? FileHandle(forWritingTo: url) else { return }
        defer { try? h.close() }
        _ = try? h.seekToEnd()
        try? h.write(contentsOf: Data((line + "\n").utf8))
    }

    /// One JSON object on one line with sorted keys.
    public static func jsonLine(_ object: [String: Any]) -> String {
        guard let d = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: d, as: UTF8.self)
    }
}
