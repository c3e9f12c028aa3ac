// `esvit eval-knn` end to end on a checkpoint written by a short pretraining run: the teacher
// and the student evaluate; 2 ranks (sharded extraction) give exactly the 1-rank numbers; a
// backbone-only file with the official names gives the teacher's numbers; cached features are
// reused with the same result; a damaged or foreign file is refused with a clear message; the
// periodic k-NN and correspondence accuracy equal the commands' own on the same networks.
import ESModel
import ESTestSupport
import Foundation
import XCTest

final class EvalCommandTests: XCTestCase {
    func knnLines(_ out: String) -> [String] { out.split(separator: "\n").map(String.init).filter { $0.contains("-NN: top-1") } }

    func testEvalKNNOnATrainedCheckpoint() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") else { throw XCTSkip("dataset-fashion-mnist is not installed") }
        let tmp = try TemporaryDirectory(prefix: "esvit-eval")
        let run = tmp.path("run")
        var (c, o) = try TestProcess.run(TestProcess.esvit, ["pretrain", "--out-dim", "256", "--hidden-dim", "64", "--bottleneck-dim", "32",
                                                             "--local-crops-number", "2", "--epochs", "1", "--warmup-epochs", "0",
                                                             "--warmup-teacher-temp-epochs", "0", "--freeze-last-layer", "0", "--lr", "0.05",
                                                             "--batch-size-per-rank", "8", "--max-iters", "2", "--threads", "1", "--output-dir", run])
        XCTAssertEqual(c, 0, o)
        let ck = run + "/checkpoint.safetensors"
        let limits = ["--train-limit", "600", "--test-limit", "200", "--threads", "1"]
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-knn", "--checkpoint", ck] + limits)
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("teacher of training checkpoint") && o.contains("3-stage Swin at 32 px") && o.contains("features: 192-d"), o)
        XCTAssertTrue(o.contains("k-NN (k = 20, T = 0.07): "), o)
        let teacher = knnLines(o)
        XCTAssertEqual(teacher.count, 4, o)
        // Sharded over 2 ranks: the same features, the same numbers.
        let (c2, o2) = try TestProcess.run("/bin/bash", [TestProcess.root + "/launch/run-node.sh", "-n", "2", "--", "eval-knn", "--checkpoint", ck] + limits)
        XCTAssertEqual(c2, 0, o2)
        XCTAssertEqual(knnLines(o2), teacher, o2)
        // A backbone-only file with the official key names (no prefix) gives the teacher's numbers.
        let file = try SafeTensorsFile(path: ck)
        var w = SafeTensorsWriter()
        for (name, t) in file.tensors where name.hasPrefix("teacher.backbone.") {
            let v = try file.floats(name)
            w.add(String(name.dropFirst("teacher.backbone.".count)), shape: t.shape, floats: v)
        }
        try w.write(to: tmp.path("backbone.safetensors"))
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-knn", "--checkpoint", tmp.path("backbone.safetensors"), "--arch", "swin_mini"] + limits)
        XCTAssertEqual(c, 0, o)
        XCTAssertEqual(knnLines(o), teacher, o)
        // Exported with timm's names, read back through --weights: the same numbers.
        (c, o) = try TestProcess.run(TestProcess.esvit, ["export", "--checkpoint", ck, "--format", "timm", "--out", tmp.path("timm.safetensors")])
        XCTAssertEqual(c, 0, o)
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-knn", "--weights", tmp.path("timm.safetensors"), "--arch", "swin_mini"] + limits)
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("(no prefix, timm names)"), o)
        XCTAssertEqual(knnLines(o), teacher, o)
        // A .pth written by torch in upstream EsViT's layout (the interop fixture, a tiny Swin).
        let pth = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("interop/tiny_esvit.pth").path
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-knn", "--weights", pth, "--which", "student", "--arch", "swin_mini", "--patch-size", "2",
                                                         "--embed-dim", "8", "--depths", "2,2", "--num-heads", "1,2", "--construct-size", "16"] + limits)
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("keys under 'student.module.backbone.', official names") && o.contains("features: 16-d"), o)
        XCTAssertEqual(knnLines(o).count, 4, o)
        // Cached features: computed once, then reused with the same result.
        let cache = ["--features-dir", tmp.path("cache")]
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-knn", "--checkpoint", ck, "--which", "student"] + limits + cache)
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("features cached in"), o)
        let student = knnLines(o)
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-knn", "--checkpoint", ck, "--which", "student"] + limits + cache)
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("features: reused from"), o)
        XCTAssertEqual(knnLines(o), student)
        // The linear probe (fast mode) on the same checkpoint: 4 last blocks of swin_mini = 96 + 96 + 192 + 192.
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-linear", "--checkpoint", ck, "--mode", "fast", "--epochs", "5", "--lr", "0.1,1"] + limits)
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("features: 576-d") && o.contains("mode: fast") && o.contains("linear probe (fast mode): best val top-1"), o)
        XCTAssertTrue(o.contains("lr 0.1: best") && o.contains("lr 1: best"), o)
        // Upstream's augmented protocol (the default mode): fresh views every epoch, both lrs side by side.
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-linear", "--checkpoint", ck, "--epochs", "2", "--lr", "0.1,1"] + limits)
        XCTAssertEqual(c, 0, o)
        XCTAssertTrue(o.contains("mode: augmented") && o.contains("epoch 2/2: val top-1") && o.contains("linear probe (augmented mode): best val top-1"), o)
        (c, o) = try TestProcess.run("/bin/bash", [TestProcess.root + "/launch/run-node.sh", "-n", "2", "--", "eval-linear", "--checkpoint", ck,
                                                   "--epochs", "1"] + limits)
        XCTAssertEqual(c, 78, o)
        XCTAssertEqual(o.components(separatedBy: "esvit eval-linear runs as one process").count - 1, 1, o)
        XCTAssertTrue(o.contains("--mode fast spreads its features over ranks"), o)
        // Refused files.
        let data = try Data(contentsOf: URL(fileURLWithPath: ck))
        try data.prefix(data.count / 3).write(to: URL(fileURLWithPath: tmp.path("cut.safetensors")))
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-knn", "--checkpoint", tmp.path("cut.safetensors")] + limits)
        XCTAssertEqual(c, 1, o)
        XCTAssertTrue(o.contains("cannot use \(tmp.path("cut.safetensors"))"), o)
        var other = SafeTensorsWriter(); other.add("fc.weight", shape: [2, 2], floats: [1, 2, 3, 4])
        try other.write(to: tmp.path("other.safetensors"))
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-knn", "--checkpoint", tmp.path("other.safetensors")] + limits)
        XCTAssertEqual(c, 1, o)
        XCTAssertTrue(o.contains("holds no Swin backbone"), o)
    }

    /// Periodic k-NN inside `esvit pretrain` (2 ranks, sharded) is the same measurement as
    /// `esvit eval-knn`: at iteration 0 it equals --random-init with the same seed, at the end it
    /// equals the written checkpoint's teacher; both land in log.txt.
    func testPeriodicKNNDuringPretrainingMatchesEvalKNN() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") else { throw XCTSkip("dataset-fashion-mnist is not installed") }
        let tmp = try TemporaryDirectory(prefix: "esvit-periodic")
        let run = tmp.path("run")
        let limits = ["--train-limit", "1000", "--test-limit", "300"]
        var (c, o) = try TestProcess.run("/bin/bash", [TestProcess.root + "/launch/run-node.sh", "-n", "2", "--", "pretrain", "--out-dim", "256",
                                                       "--hidden-dim", "64", "--bottleneck-dim", "32", "--local-crops-number", "2", "--epochs", "1",
                                                       "--warmup-epochs", "0", "--warmup-teacher-temp-epochs", "0", "--freeze-last-layer", "0",
                                                       "--lr", "0.05", "--batch-size-per-rank", "4", "--max-iters", "4", "--seed", "3",
                                                       "--eval-every-iters", "2", "--eval-train-limit", "1000", "--eval-test-limit", "300",
                                                       "--eval-correspondence-limit", "60", "--output-dir", run])
        XCTAssertEqual(c, 0, o)
        var logged: [Int: Double] = [:], corr: [Int: Double] = [:]
        for line in try String(contentsOfFile: run + "/log.txt", encoding: .utf8).split(separator: "\n") {
            if let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let t = obj["knn_top1"] as? Double {
                logged[obj["iteration"] as! Int] = t
                corr[obj["iteration"] as! Int] = obj["corr_acc"] as? Double
            }
        }
        XCTAssertEqual(corr.keys.sorted(), [0, 2, 4], o)
        XCTAssertEqual(logged.keys.sorted(), [0, 2, 4], o)
        func top1(_ out: String) -> Double? {
            out.split(separator: "\n").first { $0.contains("20-NN: top-1") }.flatMap { Double($0.split(separator: " ")[2].dropLast()) }
        }
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-knn", "--random-init", "--seed", "3", "--threads", "1"] + limits)
        XCTAssertEqual(c, 0, o)
        XCTAssertEqual(try XCTUnwrap(top1(o)), try XCTUnwrap(logged[0]), accuracy: 0.005, "iteration 0 is the random initialisation (printed to 2 decimals):\n\(o)")
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-knn", "--checkpoint", run + "/checkpoint.safetensors", "--threads", "1"] + limits)
        XCTAssertEqual(c, 0, o)
        XCTAssertEqual(try XCTUnwrap(top1(o)), try XCTUnwrap(logged[4]), accuracy: 0.005, "the last evaluation is the checkpoint's teacher:\n\(o)")
        XCTAssertNotEqual(logged[0], logged[4], "training changed the teacher's neighbours")
        // The baseline beside it is the run's own initialisation (seed 3, read from the checkpoint), and the gain is the difference.
        let (random, gain) = try XCTUnwrap(baselineAndGain(o, line: "k-NN (k = 20"), o)
        XCTAssertEqual(random, try XCTUnwrap(logged[0]), accuracy: 0.005, o)
        XCTAssertEqual(gain, try XCTUnwrap(top1(o)) - random, accuracy: 0.016, o)  // three roundings to 2 decimals
        // The linear probe's baseline equals eval-linear --random-init with the run's seed.
        let probe = ["eval-linear", "--mode", "fast", "--epochs", "3", "--lr", "1", "--threads", "1"] + limits
        (c, o) = try TestProcess.run(TestProcess.esvit, probe + ["--random-init", "--seed", "3"])
        XCTAssertEqual(c, 0, o)
        let untrained = try XCTUnwrap(o.split(separator: "\n").first { $0.hasPrefix("linear probe") }.flatMap { Double($0.split(separator: " ")[7].dropLast()) }, o)
        XCTAssertFalse(o.contains("random init "), "--random-init has no baseline of its own:\n\(o)")
        (c, o) = try TestProcess.run(TestProcess.esvit, probe + ["--checkpoint", run + "/checkpoint.safetensors"])
        XCTAssertEqual(c, 0, o)
        XCTAssertEqual(try XCTUnwrap(baselineAndGain(o, line: "linear probe"), o).random, untrained, accuracy: 0.005, o)
        // The periodic correspondence accuracy is eval-correspondence's, at iteration 0 and at the end.
        func accuracy(_ out: String) -> Double? {
            out.split(separator: "\n").first { $0.hasPrefix("correspondence: accuracy") }.flatMap { Double($0.split(separator: " ")[2].dropLast(2)) }
        }
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-correspondence", "--random-init", "--seed", "3", "--test-limit", "60", "--threads", "1"])
        XCTAssertEqual(c, 0, o)
        XCTAssertEqual(try XCTUnwrap(accuracy(o)), try XCTUnwrap(corr[0]), accuracy: 0.005, o)
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-correspondence", "--checkpoint", run + "/checkpoint.safetensors", "--test-limit", "60",
                                                         "--threads", "1"])
        XCTAssertEqual(c, 0, o)
        XCTAssertEqual(try XCTUnwrap(accuracy(o)), try XCTUnwrap(corr[4]), accuracy: 0.005, o)
        XCTAssertTrue(o.contains(String(format: "(random init: accuracy %.2f%%", try XCTUnwrap(corr[0]))), "the baseline is the run's initialisation:\n\(o)")
        (c, o) = try TestProcess.run(TestProcess.esvit, ["eval-correspondence", "--checkpoint", run + "/checkpoint.safetensors", "--test-limit", "60",
                                                         "--no-baseline", "--threads", "1"])
        XCTAssertEqual(c, 0, o)
        XCTAssertFalse(o.contains("random init"), o)
    }

    /// "(random init R%; gain G points)" on the summary line that starts with `line`.
    func baselineAndGain(_ out: String, line: String) -> (random: Double, gain: Double)? {
        guard let l = out.split(separator: "\n").first(where: { $0.hasPrefix(line) }), let r = l.range(of: "(random init ") else { return nil }
        let words = l[r.upperBound...].split(separator: " ")
        guard words.count >= 3, let random = Double(words[0].dropLast(2)), let gain = Double(words[2]) else { return nil }
        return (random, gain)
    }

    /// Every command that runs as one process refuses a launch of several tasks before any work
    /// (exit 78, one line): each task would do the whole work and write the same files.
    func testOneProcessCommandsRefuseSeveralTasks() throws {
        let tmp = try TemporaryDirectory(prefix: "esvit-tasks"), files = try TemporaryDirectory(prefix: "esvit-tasks-in")
        let dummy = files.path("dummy.bin")   // options that must name an existing file (checked while parsing)
        XCTAssertTrue(FileManager.default.createFile(atPath: dummy, contents: Data([0])))
        let commands: [[String]] = [
            ["eval-correspondence", "--random-init"], ["eval-dense", "--random-init"], ["eval-linear", "--random-init", "--mode", "augmented"],
            ["visualize", "attention", "--checkpoint", dummy, "--fashion-index", "0", "--out", tmp.path("a.png")],
            ["export", "--checkpoint", dummy, "--format", "timm", "--out", tmp.path("x.safetensors")],
            ["forward", "--weights", dummy, "--input", dummy, "--features", tmp.path("f.npy")], ["plot", "--log", "x", "--out", tmp.path("x.svg")],
            ["prepare", "fashion-mnist", "--out", tmp.path("p")], ["bench", "swin"],
        ]
        for args in commands {
            let (c, o) = try TestProcess.run(TestProcess.esvit, args, env: ["SLURM_STEP_NUM_TASKS": "2", "SLURM_PROCID": "0"])
            XCTAssertEqual(c, 78, "\(args): \(o)")
            XCTAssertTrue(o.contains("runs as one process, but the launcher started 2 tasks (SLURM_STEP_NUM_TASKS=2)"), "\(args): \(o)")
        }
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: tmp.path("")).isEmpty, "nothing written")
        // Under a real mpirun: one line, from rank 0.
        let (c, o) = try TestProcess.run("/bin/bash", [TestProcess.root + "/launch/run-node.sh", "-n", "2", "--", "eval-dense", "--random-init"])
        XCTAssertEqual(c, 78, o)
        XCTAssertEqual(o.components(separatedBy: "esvit eval-dense runs as one process").count - 1, 1, o)
        // The commands that spread over ranks are not refused for it.
        for args in [["doctor"], ["eval-knn", "--random-init", "--arch", "swin_mini", "--train-limit", "40", "--test-limit", "20", "--no-baseline"]] {
            let (c, o) = try TestProcess.run("/bin/bash", [TestProcess.root + "/launch/run-node.sh", "-n", "2", "--"] + args)
            XCTAssertEqual(c, 0, "\(args): \(o)")
        }
    }
}
