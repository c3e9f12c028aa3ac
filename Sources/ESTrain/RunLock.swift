// One writer per output folder: a training run holds an exclusive flock(2) on DIR/run.lock while
// it runs, and the file names its owner (host, pid, start time). A second writer — a resubmission
// while the first job still runs, two jobs pointed at one folder, N unsynchronised tasks of a
// misconfigured launch — is refused at start-up with that owner. The kernel drops the lock when
// its process dies however it dies, so a record left by a dead run is found with the lock free
// and taken over, with a message.
//
// What it relies on: flock on local file systems; on NFS, Linux turns flock into a whole-file
// POSIX lock that the server arbitrates across clients (NFSv4, or NFSv3 with lockd; not with the
// 'nolock' or 'local_lock=flock' mount options). Lustre needs the 'flock' mount option (with
// 'localflock' the lock only holds within one node); GPFS and BeeGFS (global locks on) honour it.
// A file system without locks is refused with a hint rather than run unguarded.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public final class RunLock {
    public static let fileName = "run.lock"
    public let path: String
    /// Set when a record of an earlier owner that is gone was found and replaced.
    public let takeover: String?
    private var fd: Int32

    /// Takes the lock of `dir` (which must exist) or throws naming the owner.
    public init(dir: String, now: Date = Date()) throws {
        path = (dir as NSString).appendingPathComponent(RunLock.fileName)
        var taken: (Int32, String)? = nil
        for _ in 0..<5 where taken == nil { taken = try RunLock.tryLock(path) }
        guard let (fd, previous) = taken else {
            throw TrainError.config("cannot lock \(path): it kept being replaced while locking; is another run starting in the same folder?")
        }
        self.fd = fd
        takeover = previous.isEmpty ? nil : RunLock.takeoverNote(previous: previous, path: path)
        let record = RunLock.record(now: now)
        guard ftruncate(fd, 0) == 0, pwrite(fd, record, record.utf8.count, 0) == record.utf8.count else {
            let e = String(cString: strerror(errno))
            release()
            throw TrainError.config("cannot write \(path): \(e)")
        }
        fsync(fd)
    }

    deinit { release() }

    /// Clears the record and drops the lock (also done by the kernel if the process dies).
    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        unlink(path)          // those still holding the old file notice the change and retry
        close(fd)
        fd = -1
    }

    /// "host vm, pid 123, started 2026-12-01T05:00:00Z".
    static func record(now: Date) -> String {
        "host \(ProcessInfo.processInfo.hostName), pid \(getpid()), started \(ISO8601DateFormatter().string(from: now))\n"
    }

    /// One attempt: the locked descriptor and the previous record, nil if the file was replaced
    /// under us; throws if another process holds the lock.
    static func tryLock(_ path: String) throws -> (Int32, String)? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TrainError.config("cannot create \(path): \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            let owner = contents(fd)
            close(fd)
            let outputDir = option(\.config.outputDir)
            if e == EWOULDBLOCK {
                let who = owner.isEmpty ? "another process (it has not written its record yet)" : "a run on " + owner
                throw TrainError.config("\(outputDir) \((path as NSString).deletingLastPathComponent) is in use by \(who) (it holds \(path)). "
                                        + "Only one run may write a folder: wait for that run to end, stop it, or choose another \(outputDir).")
            }
            throw TrainError.config("cannot lock \(path): \(String(cString: strerror(e))). The file system of \(outputDir) does not support "
                                    + "flock (Lustre: mount with -o flock; NFS: do not mount with nolock); choose a folder on one that does.")
        }
        // The previous owner unlinks the file on release; a lock on an unlinked file guards nothing.
        var a = stat(), b = stat()
        guard fstat(fd, &a) == 0, stat(path, &b) == 0, a.st_ino == b.st_ino, a.st_dev == b.st_dev else { close(fd); return nil }
        return (fd, contents(fd).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func contents(_ fd: Int32) -> String {
        var buf = [UInt8](repeating: 0, count: 512)
        let n = pread(fd, &buf, buf.count, 0)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
    }

    /// The message for a record whose owner no longer holds the lock.
    static func takeoverNote(previous: String, path: String) -> String {
        var fate = "it no longer holds the lock"
        let fields = previous.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if let host = fields.first(where: { $0.hasPrefix("host ") })?.dropFirst(5), host == ProcessInfo.processInfo.hostName[...],
           let pid = fields.first(where: { $0.hasPrefix("pid ") }).flatMap({ Int32($0.dropFirst(4)) }) {
            fate = kill(pid, 0) != 0 && errno == ESRCH ? "process \(pid) is gone" : "process \(pid) no longer holds the lock"
        }
        return "taking over \(path): the run recorded there (\(previous)) ended without releasing it; \(fate)"
    }
}
