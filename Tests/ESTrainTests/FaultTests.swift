// What goes wrong in real runs, and what the trainer must do about it:
//   * kill -9 of one rank mid-run: the job ends within 10 s with a non-zero code, the last
//     checkpoint is intact, and a new run continues from it;
//   * a non-finite loss on one rank: every rank stops before updating, the error names the
//     iteration and the last good checkpoint, exit non-zero;
//   * replicas drifting apart: the checksum comparison stops every rank with a clear message;
//   * wrong options: refused before any work (exit 64, one line with a hint, printed once);
//   * a temp file from an interrupted checkpoint write is removed at start.
import ESModel
import ESTestSupport
import Foundation
import XCTest

final class FaultTests: XCTestCase {
    override func setUpWithError() throws {
        guard Harness.haveData else { throw XCTSkip("dataset-fashion-mnist is not installed (launch/setup.sh installs it)") }
        guard TestProcess.mpirun != nil else { throw XCTSkip("mpirun not found (launch/setup.sh installs openmpi-bin)") }
    }

    func info(_ checkpoint: String) throws -> [String: Any] {
        let f = try SafeTensorsFile(path: checkpoint)
        return try JSONSerialization.jsonObject(with: Data((f.metadata["info"] ?? "").utf8)) as? [String: Any] ?? [:]
    }

    /// PIDs of the esvit ranks whose command line mentions `marker`, by MPI rank.
    static func ranks(marker: String) -> [Int: Int32] {
        var out: [Int: Int32] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name),
                  let cmd = try? String(contentsOfFile: "/proc/\(name)/cmdline", encoding: .utf8), cmd.contains(marker), cmd.contains("esvit"),
                  let env = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(name)/environ")) else { continue }
            for entry in env.split(separator: 0) {
                let s = String(decoding: entry, as: UTF8.self)
                if s.hasPrefix("OMPI_COMM_WORLD_RANK="), let r = Int(s.dropFirst("OMPI_COMM_WORLD_RANK=".count)) { out[r] = pid }
            }
        }
        return out
    }

    func testKillingOneRankEndsTheJobAndTheRunResumes() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-kill")
        let dir = tmp.path("run")
        let args = ["/bin/bash", TestProcess.root + "/launch/run-node.sh", "-n", "2", "--", "pretrain"] + Harness.tiny
            + ["--batch-size-per-rank", "4", "--saveckp-iters", "3", "--output-dir", dir]
        let pipe = Pipe()
        let job = try TestProcess.start("/usr/bin/timeout", ["-k", "5", "240"] + args, output: pipe)
        let collected = OutputCollector(pipe)
        // Wait for a checkpoint and a few more iterations.
        let deadline = Date().addingTimeInterval(180)
        while Date() < deadline, (try? Harness.losses(dir))?.keys.max() ?? 0 < 8 { usleep(100_000) }
        let victims = FaultTests.ranks(marker: dir)
        guard let victim = victims[1] else {
            job.terminate(); job.waitUntilExit()
            return XCTFail("rank 1 not found among \(victims); output:\n\(collected.text)")
        }
        let killedAt = Date()
        kill(victim, SIGKILL)
        job.waitUntilExit()
        let seconds = Date().timeIntervalSince(killedAt)
        let out = collected.text
        print("kill -9 of rank 1: the job exited after \(String(format: "%.2f", seconds)) s with code \(job.terminationStatus)")
        XCTAssertNotEqual(job.terminationStatus, 0, out)
        XCTAssertNotEqual(job.terminationStatus, 124, "the job hung until timeout killed it:\n\(out)")
        XCTAssertLessThan(seconds, 10, out)
        XCTAssertTrue(FaultTests.ranks(marker: dir).isEmpty, "ranks left running after the job ended")
        // The last checkpoint is intact (every safetensors check passes) and a run continues from it.
        let ck = dir + "/checkpoint.safetensors"
        let done = try XCTUnwrap(info(ck)["iteration"] as? Int)
        XCTAssertGreaterThanOrEqual(done, 3)
        XCTAssertEqual(done % 3, 0)
        let (c, o) = try Harness.ranks(2, Harness.tiny + ["--batch-size-per-rank", "4", "--saveckp-iters", "3", "--max-iters", "\(done + 2)", "--output-dir", dir])
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("resuming from \(ck): iteration \(done)"), o)
        XCTAssertEqual(try info(ck)["iteration"] as? Int, done + 2)
        // The killed run logged past its checkpoint; the resumed run recomputed those steps and
        // TensorBoard got each step once (log.txt, appended to, holds them twice).
        let board = try TensorBoardTests.scalars(dir).filter { $0.tag == "loss/total" }.map(\.step)
        XCTAssertEqual(board, Array(Set(board)).sorted(), "a step written twice, or out of order")
        XCTAssertTrue(Set(board).isSubset(of: Set(try Harness.losses(dir).keys.map(Int64.init))), "\(board)")
        XCTAssertTrue(Set((1...done + 2).map(Int64.init)).isSubset(of: Set(board)), "\(board)")
    }

    func testNonFiniteLossOnOneRankStopsEveryRank() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-nan")
        let dir = tmp.path("run")
        let (c, o) = try Harness.ranks(2, Harness.tiny + ["--batch-size-per-rank", "4", "--saveckp-iters", "2", "--max-iters", "10", "--output-dir", dir],
                                       env: ["ESVIT_FAULT": "nan@4:1"], timeout: 120)
        XCTAssertNotEqual(c, 0, o)
        XCTAssertTrue(o.contains("non-finite loss at iteration 4 (epoch 0)"), o)
        XCTAssertTrue(o.contains("The last good checkpoint is \(dir)/checkpoint.safetensors"), o)
        XCTAssertEqual(o.components(separatedBy: "non-finite loss at").count - 1, 1, "reported once (rank 0):\n\(o)")
        XCTAssertEqual(try info(dir + "/checkpoint.safetensors")["iteration"] as? Int, 4, "the checkpoint after iteration 4 stays")
        XCTAssertEqual(try Harness.losses(dir).keys.max(), 4, "no update after the bad step")
    }

    func testDriftingReplicasAreCaught() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-drift")
        let (c, o) = try Harness.ranks(2, Harness.tiny + ["--batch-size-per-rank", "4", "--max-iters", "6", "--output-dir", tmp.path("run")],
                                       env: ["ESVIT_FAULT": "desync@2:1"], timeout: 120)
        XCTAssertNotEqual(c, 0, o)
        XCTAssertTrue(o.contains("parameters differ across ranks at iteration 3: 1 of 2 rank(s) disagree with rank 0"), o)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.path("run/checkpoint.safetensors")), "no checkpoint from diverged replicas")
    }

    func testBadOptionsAreRefusedBeforeAnyWork() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-opts")
        let cases: [([String], String)] = [
            (["--epochs", "2", "--warmup-epochs", "5", "--warmup-teacher-temp-epochs", "0"], "--warmup-epochs 5 must be < --epochs 2"),
            (["--teacher-temp", "0.1"], "above 0.07"),
            (["--dataset", "folder"], "--dataset folder needs --data-path"),
            (["--dataset", "imagenet"], "The value 'imagenet' is invalid for '--dataset <dataset>'. Please provide one of 'fashion-mnist', 'fashion-scenes' or 'folder'"),
            (["--arch", "vit_small"], "The value 'vit_small' is invalid for '--arch <arch>'. Please provide one of 'swin_tiny'"),
            (["--batch-size-per-rank", "0"], "--batch-size-per-rank must be ≥ 1"),
            (["--global-crops-scale", "0.5", "0.2"], "--global-crops-scale needs two values"),
            (["--resume-from", tmp.path("missing.safetensors")], "does not exist"),
            (["--resume"], "--resume needs a checkpoint to continue from"),
            (["--data-path", tmp.path("nowhere")], "is not a folder"),
        ]
        for (extra, message) in cases {
            let (c, o) = Harness.inProcess(["--output-dir", tmp.path("run")] + extra)
            XCTAssertEqual(c, 64, "\(extra): \(o)")
            XCTAssertTrue(o.contains(message), "\(extra): expected '\(message)' in:\n\(o)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.path("run")), "nothing is created for a refused command")
        // Under mpirun the message appears once, not once per rank.
        let (c, o) = try Harness.ranks(2, ["--output-dir", tmp.path("run"), "--teacher-temp", "0.1"])
        XCTAssertNotEqual(c, 0)
        XCTAssertEqual(o.components(separatedBy: "above 0.07").count - 1, 1, o)
        // Under a launcher only rank 0 reads --output-dir (it may exist on rank 0's node alone), so it
        // refuses a missing --resume checkpoint after MPI starts, with the same exit code and one line.
        let (c3, o3) = try Harness.ranks(2, Harness.tiny + ["--batch-size-per-rank", "4", "--output-dir", tmp.path("run2"), "--resume"])
        XCTAssertEqual(c3, 64, o3)
        XCTAssertEqual(o3.components(separatedBy: "--resume needs a checkpoint to continue from").count - 1, 1, o3)
        // A dataset smaller than one global batch: refused with the numbers, before training.
        let data = tmp.path("tiny")
        try FileManager.default.createDirectory(atPath: data + "/a", withIntermediateDirectories: true)
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: TestProcess.root + "/Tests/ESDataTests/Fixtures/jpeg/gray.jpg"))
        for k in 0..<3 { try jpeg.write(to: URL(fileURLWithPath: data + "/a/\(k).jpg")) }
        let (c2, o2) = Harness.inProcess(Harness.tiny + ["--dataset", "folder", "--data-path", data, "--batch-size-per-rank", "8",
                                                          "--output-dir", tmp.path("small")])
        XCTAssertEqual(c2, 1, o2)
        XCTAssertTrue(o2.contains("the dataset has 3 images, fewer than one global batch of 8"), o2)
    }

    func testStaleTempFilesAreRemovedAtStart() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-stale")
        let dir = tmp.path("run")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/checkpoint.safetensors.tmp"))
        let (c, o) = Harness.inProcess(Harness.tiny + ["--batch-size-per-rank", "4", "--max-iters", "1", "--output-dir", dir])
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("removed stale temp files from an interrupted write: checkpoint.safetensors.tmp"), o)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/checkpoint.safetensors.tmp"))
    }
}

/// Reads a pipe on a background thread so a long-running child never blocks on a full pipe.
final class OutputCollector: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock()
    init(_ pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.data.append(d); self.lock.unlock()
        }
    }
    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}

/// Epoch ends: every --saveckp-freq epochs the state is written both to checkpoint.safetensors
/// and to a numbered copy that keeps that epoch's end (iteration 8 here) after later overwrites
/// of the latest one; log.txt gets DINO's per-epoch line for every epoch.
final class EpochCheckpointTests: XCTestCase {
    func testNumberedCheckpointsAtEpochEnds() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-epochs")
        let data = tmp.path("data")
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: TestProcess.root + "/Tests/ESDataTests/Fixtures/jpeg/good_rgb.jpg"))
        for cls in ["a", "b"] {
            try FileManager.default.createDirectory(atPath: data + "/" + cls, withIntermediateDirectories: true)
            for k in 0..<8 { try jpeg.write(to: URL(fileURLWithPath: data + "/\(cls)/\(k).jpg")) }
        }
        let run = tmp.path("run")
        // 16 images, batch 4: 4 iterations per epoch; the later --epochs 3 overrides tiny's --epochs 1.
        let (c, o) = Harness.inProcess(Harness.tiny + ["--dataset", "folder", "--data-path", data, "--batch-size-per-rank", "4",
                                                       "--epochs", "3", "--saveckp-freq", "2", "--output-dir", run])
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("checkpoint: \(run)/checkpoint.safetensors, \(run)/checkpoint0002.safetensors (iteration 8)"), o)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/checkpoint0001.safetensors"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/checkpoint0003.safetensors"))
        let numbered = try Harness.tensors(run + "/checkpoint0002.safetensors")
        XCTAssertEqual(try SafeTensorsFile(path: run + "/checkpoint0002.safetensors").metadata["info"]?.contains("\"iteration\":8"), true)
        XCTAssertEqual(Set(numbered.keys), Set(try Harness.tensors(run + "/checkpoint.safetensors").keys))
        let epochLines = try String(contentsOfFile: run + "/log.txt", encoding: .utf8).split(separator: "\n").filter { $0.contains("train_loss") }
        XCTAssertEqual(epochLines.count, 3)
    }
}
