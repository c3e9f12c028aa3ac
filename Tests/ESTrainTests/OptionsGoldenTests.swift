// What `esvit pretrain` makes of its command line, pinned: for about ninety command lines (no
// options, each preset, each option alone, presets with overrides, architecture overrides and
// crop sizes, the dataset switch, and lines that must be refused), the resolved configuration
// field by field, or the refusal message; and `--print-preset` for every preset.
// Fixtures/options-golden.json was recorded by this code at commit 29db272. A change to a
// default, to the order in which presets and options apply, or to a message shows up here as a
// named field. To record again after an intended change (and review the diff in git):
//   ESVIT_RECORD_GOLDEN=1 swift test -c release --filter OptionsGoldenTests
@testable import ESTrain
import Foundation
import XCTest

final class OptionsGoldenTests: XCTestCase {
    /// Appended to every line unless it names the option: a fixed output folder, data folder and
    /// thread count (the default thread count is the machine's core count).
    static let fixed = [("--output-dir", "run"), ("--data-path", "/"), ("--threads", "2")]

    static let lines: [[String]] = [
        [], ["--arch", "swin_tiny"], ["--arch", "swin_small"], ["--arch", "swin_base"],
        ["--patch-size", "2"], ["--embed-dim", "24"], ["--depths", "1,1,2"], ["--num-heads", "2,4,8"], ["--window-size", "2"],
        ["--in-chans", "1"], ["--construct-size", "64"], ["--layer-norm-eps", "1e-5"], ["--drop-path-rate", "0.2"],
        ["--out-dim", "1024"], ["--hidden-dim", "256"], ["--bottleneck-dim", "64"], ["--norm-last-layer", "true"],
        ["--use-dense-prediction", "false"], ["--region-start-fraction", "0.5", "--iterations", "100"],
        ["--momentum-teacher", "0.99"], ["--teacher-temp", "0.05"], ["--warmup-teacher-temp", "0.03"],
        ["--warmup-teacher-temp-epochs", "5"], ["--lr", "0.001"], ["--min-lr", "1e-5"], ["--warmup-epochs", "3"],
        ["--weight-decay", "0.05"], ["--weight-decay-end", "0.3"], ["--clip-grad", "0"], ["--freeze-last-layer", "2"],
        ["--epochs", "20", "--warmup-teacher-temp-epochs", "5"], ["--iterations", "500"], ["--time-budget", "10"],
        ["--iterations", "500", "--warmup-fraction", "0.1", "--warmup-teacher-temp-fraction", "0.2", "--freeze-last-layer-fraction", "0.05"],
        ["--batch-size-per-rank", "16"], ["--grad-accum-steps", "4"], ["--global-crops-scale", "0.3", "1"],
        ["--blur-sigma", "0", "0"], ["--local-crops-number", "6"], ["--local-crops-scale", "0.1", "0.3"],
        ["--local-crops-size", "12"], ["--global-crops-size", "24"], ["--global-crops-size", "24", "--construct-size", "48"],
        ["--saveckp-freq", "2"], ["--saveckp-iters", "0"], ["--seed", "7"], ["--batch-split", "false"], ["--loader-threads", "3"],
        ["--max-iters", "40"], ["--log-every", "1"], ["--check-every", "5"], ["--eval-every", "1"], ["--eval-every-iters", "100"],
        ["--eval-train-limit", "500"], ["--eval-test-limit", "100"], ["--eval-correspondence-limit", "50"], ["--eval-data-path", "/"],
        ["--dataset", "fashion-scenes"], ["--dataset", "fashion-scenes", "--arch", "swin_tiny"],
        ["--preset", "fm-quick", "--iterations", "3741"], ["--preset", "fm-quick", "--time-budget", "30"],
        ["--preset", "fm-quick", "--epochs", "2"], ["--preset", "fm-quick", "--epochs", "40"], ["--preset", "fm-quick", "--lr", "0.004", "--patch-size", "2"],
        ["--preset", "fs-30m", "--dataset", "fashion-mnist"], ["--preset", "fm-2h", "--use-dense-prediction", "false"],
        // Refused.
        ["--preset", "nope"], ["--iterations", "5", "--time-budget", "3"], ["--iterations", "5", "--epochs", "3"],
        ["--iterations", "5", "--warmup-epochs", "1"], ["--iterations", "5", "--freeze-last-layer", "1"],
        ["--iterations", "5", "--warmup-teacher-temp-epochs", "1"], ["--epochs", "0"], ["--iterations", "0"], ["--time-budget", "0"],
        ["--warmup-fraction", "1"], ["--region-start-fraction", "1"], ["--region-start-fraction", "0.5", "--use-dense-prediction", "false"],
        ["--batch-size-per-rank", "0"], ["--grad-accum-steps", "0"], ["--threads", "0"], ["--out-dim", "1"], ["--lr", "-1"],
        ["--epochs", "5", "--warmup-epochs", "5"], ["--epochs", "5", "--warmup-epochs", "1", "--warmup-teacher-temp-epochs", "6"],
        ["--epochs", "5", "--warmup-epochs", "1", "--warmup-teacher-temp-epochs", "2", "--freeze-last-layer", "5"], ["--window-size", "3"], ["--local-crops-size", "40"],
        ["--init-which", "teacher"], ["--init-from", "w.pth", "--init-which", "both"], ["--resume", "--resume-from", "c.safetensors"],
        ["--dataset", "image-folder"], ["--data-path", "/nonexistent-esvit"], ["--bogus"], ["--lr", "fast"],
    ]

    /// The configuration as dotted field paths and JSON leaves, or ["error": message].
    static func outcome(_ line: [String]) -> [String: String] {
        var args = line
        for (flag, value) in fixed where !line.contains(flag) { args += [flag, value] }
        do { return flatten(try JSONSerialization.jsonObject(with: try encoder.encode(try PretrainOptions.parse(args).resolved()))) }
        catch { return ["error": PretrainOptions.message(for: error)] }
    }

    static let encoder: JSONEncoder = { let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]; return e }()

    static func flatten(_ value: Any, _ path: String = "") -> [String: String] {
        if let d = value as? [String: Any] {
            return d.reduce(into: [:]) { out, kv in out.merge(flatten(kv.value, path.isEmpty ? kv.key : path + "." + kv.key)) { $1 } }
        }
        let data = try! JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
        return [path: String(decoding: data, as: UTF8.self)]
    }

    struct Golden: Codable { var resolved: [String: [String: String]]; var presets: [String: String] }

    static func current() throws -> Golden {
        var g = Golden(resolved: [:], presets: [:])
        for line in lines { g.resolved[line.joined(separator: " ")] = outcome(line) }
        for p in RecipePreset.all {
            let o = try PretrainOptions.parse(["--preset", p.name, "--print-preset"])
            g.presets[p.name] = try Pretraining.presetListing(o)
        }
        return g
    }

    func testResolvedConfigurationsRefusalsAndPresetListingsAreUnchanged() throws {
        let now = try Self.current()
        if ProcessInfo.processInfo.environment["ESVIT_RECORD_GOLDEN"] == "1" {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/options-golden.json")
            let e = JSONEncoder(); e.outputFormatting = [.sortedKeys, .prettyPrinted]
            try e.encode(now).write(to: url)
            XCTFail("recorded \(url.path); review it with git diff and run again without ESVIT_RECORD_GOLDEN")
            return
        }
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("options-golden.json")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
        XCTAssertEqual(Set(golden.resolved.keys), Set(now.resolved.keys), "the command lines are the recorded ones")
        for (line, fields) in now.resolved.sorted(by: { $0.key < $1.key }) {
            guard let old = golden.resolved[line] else { continue }
            for key in Set(fields.keys).union(old.keys).sorted() where fields[key] != old[key] {
                XCTFail("`pretrain \(line)`: \(key) is \(fields[key] ?? "absent"), recorded \(old[key] ?? "absent")")
            }
        }
        XCTAssertEqual(golden.presets, now.presets, "--print-preset listings")
        XCTAssertGreaterThanOrEqual(now.resolved.values.filter { $0["error"] != nil }.count, 28, "the refusals are exercised")
        XCTAssertGreaterThanOrEqual(now.resolved.values.filter { $0["error"] == nil }.count, 60)
    }
}
