// One writer per output folder (RunLock): a second holder is refused with the owner's host and
// pid, a released lock is free again without a note, and a record left by a process that died
// is taken over with a message naming it.
import ESTestSupport
import ESTrain
import Foundation
import XCTest

final class RunLockTests: XCTestCase {
    func testASecondWriterIsRefusedNamingTheOwner() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-lock")
        let first = try RunLock(dir: tmp.path(""))
        XCTAssertNil(first.takeover)
        let record = try String(contentsOfFile: first.path, encoding: .utf8)
        XCTAssertTrue(record.hasPrefix("host \(ProcessInfo.processInfo.hostName), pid \(getpid()), started "), record)
        XCTAssertThrowsError(try RunLock(dir: tmp.path(""))) { error in
            let m = "\(error)"
            XCTAssertTrue(m.contains("is in use by a run on host \(ProcessInfo.processInfo.hostName), pid \(getpid())"), m)
            XCTAssertTrue(m.contains("(it holds \(first.path))"), m)
        }
        first.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: first.path), "a released lock leaves no record")
        let again = try RunLock(dir: tmp.path(""))
        XCTAssertNil(again.takeover, "a cleanly released lock is not a takeover")
    }

    func testARecordLeftByADeadProcessIsTakenOver() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-lock")
        // A pid that certainly ended: a child that has exited and been reaped.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run(); child.waitUntilExit()
        let dead = child.processIdentifier
        let path = tmp.path(RunLock.fileName)
        try "host \(ProcessInfo.processInfo.hostName), pid \(dead), started 2026-01-01T00:00:00Z\n".write(toFile: path, atomically: false, encoding: .utf8)
        let lock = try RunLock(dir: tmp.path(""))
        let note = try XCTUnwrap(lock.takeover)
        XCTAssertTrue(note.contains("taking over \(path)"), note)
        XCTAssertTrue(note.contains("pid \(dead)") && note.contains("process \(dead) is gone"), note)
        XCTAssertTrue(try String(contentsOfFile: path, encoding: .utf8).contains("pid \(getpid())"), "the record names the new owner")
    }

    func testTheLockIsHeldAcrossProcesses() throws {
        // Another process (bash, then sleep in its place) holds the folder's lock with flock(1).
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/flock") else { throw XCTSkip("flock(1) not found (apt-get install util-linux)") }
        let tmp = try TemporaryDirectory(prefix: "esvit-lock")
        let path = tmp.path(RunLock.fileName)
        let script = "exec 9>\"$0\"; flock 9; echo 'host elsewhere, pid 1, started x' >&9; exec sleep 30"
        let holder = try TestProcess.start("/bin/bash", ["-c", script, path], output: Pipe())
        defer { holder.terminate(); _ = TestProcess.wait(holder, timeout: 10) }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").isEmpty { usleep(20_000) }
        XCTAssertThrowsError(try RunLock(dir: tmp.path(""))) { error in
            XCTAssertTrue("\(error)".contains("is in use by a run on host elsewhere, pid 1"), "\(error)")
        }
    }
}
