// The settings registry on a small registry of its own (every value kind, `--name=value`,
// negative numbers, a later value winning, the refusals with ArgumentParser's wording and a
// near name, follow-on defaults and what counts as given, the differences report, --help's
// layout), and pretrain's registry: every PretrainConfig field a user can set is declared, and
// the resume report names flags, skips run settings and the derived run length.
@testable import ESTrain
import ESModel
import ESOptions
import XCTest

final class SettingsTests: XCTestCase {
    enum Shape: String, CaseIterable, SettingChoice { case round, square }
    struct Toy {
        var n = 1, x = 0.5, range = [0.0, 1.0], ints = [2, 2], on = false, shape = Shape.round
        var name: String? = nil, scaled = 0, flag = false, seed: UInt64 = 0
    }
    static let registry = SettingRegistry<Toy>([
        .value("n", \.n, .recipe, section: "Numbers", default: .value(1), rule: .atLeast(1), help: "A count."),
        .value("x", \.x, .recipe, section: "Numbers", default: .value(0.5), help: "A number."),
        .value("range", \.range, .recipe, section: "Numbers", default: .base(nil), help: "Two numbers."),
        .value("ints", \.ints, .recipe, section: "Numbers", default: .base(nil), help: "Comma separated."),
        .value("scaled", \.scaled, .recipe, section: "Numbers", default: .follows("ten times --n") { $0.n * 10 }, help: "Follows --n."),
        .value("on", \.on, .run, section: "Other", default: .value(false), help: "A switch."),
        .value("shape", \.shape, .recipe, section: "Other", default: .value(.round), help: "A choice."),
        .optional("name", \.name, .run, section: "Other", help: "A long help text that has to be wrapped over more than one line of the help because it goes on and on."),
        .value("seed", \.seed, .recipe, section: "Other", default: .value(0), help: "A seed."),
        .flag("flag", \.flag, .run, section: "Other", help: "A flag."),
    ])

    func resolve(_ words: [String], changes: [SettingRegistry<Toy>.Change] = []) throws -> Toy {
        try Self.registry.resolve(Toy(), changes: changes, given: Self.registry.parse(words))
    }

    func message(_ words: [String]) -> String {
        do { _ = try resolve(words); return "accepted" } catch { return "\(error)" }
    }

    func testEveryValueKindParses() throws {
        let t = try resolve(["--n", "3", "--x=-0.25", "--range", "0.1", "0.9", "--ints", "1,2,3", "--on", "true", "--shape", "square",
                             "--name", "a b", "--seed", "18446744073709551615", "--flag"])
        XCTAssertEqual(t.n, 3); XCTAssertEqual(t.x, -0.25); XCTAssertEqual(t.range, [0.1, 0.9]); XCTAssertEqual(t.ints, [1, 2, 3])
        XCTAssertTrue(t.on); XCTAssertEqual(t.shape, .square); XCTAssertEqual(t.name, "a b"); XCTAssertEqual(t.seed, .max); XCTAssertTrue(t.flag)
        XCTAssertEqual(try resolve(["--x", "-1e-3"]).x, -1e-3, "a negative number is a value, not an option")
        XCTAssertEqual(try resolve(["--range", "-0", "0", "--n", "2"]).range, [0, 0])
        XCTAssertEqual(try resolve(["--n", "3", "--n", "4"]).n, 4, "a later value wins")
        XCTAssertEqual(try resolve([]).n, 1)
    }

    func testRefusalsSayWhatIsWrong() {
        XCTAssertEqual(message(["--nn", "3"]), "Unknown option '--nn' (did you mean '--n'?)")
        XCTAssertEqual(message(["--completely-else"]), "Unknown option '--completely-else'")
        XCTAssertEqual(message(["--n"]), "Missing value for '--n <n>'")
        XCTAssertEqual(message(["--n", "--x", "1"]), "Missing value for '--n <n>'")
        XCTAssertEqual(message(["--n", "abc"]), "The value 'abc' is invalid for '--n <n>'")
        XCTAssertEqual(message(["--ints", "1,x"]), "The value '1,x' is invalid for '--ints <n,n,…>'")
        XCTAssertEqual(message(["--on", "yes"]), "The value 'yes' is invalid for '--on <true|false>'")
        XCTAssertEqual(message(["--shape", "oval"]), "The value 'oval' is invalid for '--shape <shape>'. Please provide one of 'round' or 'square'.")
        XCTAssertEqual(message(["stray"]), "Unexpected argument 'stray'")
        XCTAssertEqual(message(["--flag=true"]), "--flag takes no value")
        XCTAssertThrowsError(try resolve(["--n", "2", "--help"])) { XCTAssertTrue($0 is SettingHelpRequest) }
        XCTAssertThrowsError(try resolve(["-h"])) { XCTAssertTrue($0 is SettingHelpRequest) }
        XCTAssertEqual(Self.registry.problems(try! resolve(["--n", "0"])), ["--n must be ≥ 1"])
    }

    func testFollowOnDefaultsYieldToWhatWasGivenOrChanged() throws {
        XCTAssertEqual(try resolve(["--n", "3"]).scaled, 30, "follows the resolved --n")
        XCTAssertEqual(try resolve(["--n", "3", "--scaled", "5"]).scaled, 5, "given: kept")
        let preset: SettingRegistry<Toy>.Change = (\Toy.scaled, { $0.scaled = 7 })
        XCTAssertEqual(try resolve(["--n", "3"], changes: [preset]).scaled, 7, "changed by a preset: kept")
        XCTAssertEqual(try resolve([], changes: [(\Toy.n, { $0.n = 2 })]).scaled, 20)
    }

    func testDifferencesAndHelp() throws {
        let a = try resolve([]), b = try resolve(["--x", "0.25", "--on", "true", "--name", "z", "--flag"])
        XCTAssertEqual(Self.registry.differences(a, b, kind: .recipe), ["--x was 0.5 in the checkpoint's run, now 0.25"])
        XCTAssertEqual(Self.registry.differences(a, b, kind: .run),
                       ["--on was false in the checkpoint's run, now true", "--name was not set in the checkpoint's run, now z",
                        "--flag was not set in the checkpoint's run, now set"])
        XCTAssertEqual(Self.registry.differences(a, b, kind: .recipe) { $0.name == "x" }, [])
        let help = Self.registry.help(defaults: a, width: 60).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(help[0...2], ["", "NUMBERS:", "  --n <n>                 A count. (default: 1)"])
        XCTAssertTrue(help.contains("  --range <min max>       Two numbers. (default: 0 1)"), help.joined(separator: "\n"))
        let scaled = try XCTUnwrap(help.firstIndex(of: "  --scaled <n>            Follows --n. (default: ten times"), help.joined(separator: "\n"))
        XCTAssertEqual(help[scaled + 1], String(repeating: " ", count: 26) + "--n)", "wrapped under the help column")
        XCTAssertTrue(help.contains { $0.hasPrefix("  --shape <shape>") && $0.contains("(values: round, square)") })
        XCTAssertEqual(help.filter { $0.count > 60 }, [], "wrapped at the width")
        XCTAssertGreaterThan(help.filter { $0.hasPrefix(String(repeating: " ", count: 26)) }.count, 1, "long help continues in the margin")
    }

    func testPretrainRegistryCoversTheConfigurationAndReportsRecipeChangesByFlag() throws {
        // Every field of PretrainConfig is a setting, derived from one (the normalisation follows
        // --dataset), or a record the run writes itself.
        let unset: Set<String> = ["crops.mean", "crops.std", "budgetPlan", "backbone.mlpRatio"]
        let fields = Set(ConfigFields.flatten(PretrainConfig.standard).keys.map { $0.split(separator: ".").prefix(2).joined(separator: ".") })
        var declared = Set<String>()
        for s in PretrainSettings.registry.settings { declared.insert(String(describing: s.path).replacingOccurrences(of: "\\PretrainCommandLine.config.", with: "")) }
        for f in fields where !unset.contains(f) && !["batchSplit", "regionStartFraction", "iterations", "timeBudgetMinutes", "preset", "maxIters",
                                                    "initFrom", "initWhich", "initPrefix", "evalCorrespondenceLimit", "evalDataPath"].contains(f) {
            XCTAssertTrue(declared.contains(f), "\(f) has no setting")
        }
        var old = PretrainConfig(outputDir: "a"), new = old
        new.batchSizePerRank = 8; new.threads = 7; new.outputDir = "b"; new.logEvery = 3; new.evalEvery = 2
        XCTAssertEqual(PretrainSettings.registry.differences(PretrainCommandLine(config: old), PretrainCommandLine(config: new), kind: .recipe),
                       ["--batch-size-per-rank was 32 in the checkpoint's run, now 8"], "run settings are not reported")
        old.timeBudgetMinutes = 10; old.iterations = 500; new = old; new.iterations = 400
        XCTAssertEqual(Trainer.recipeDifferences(from: old, to: new), [], "under a time budget the planned iterations are the checkpoint's plan")
        old.timeBudgetMinutes = nil; new = old; new.epochs = 3; new.iterations = 400
        XCTAssertEqual(Trainer.recipeDifferences(from: old, to: new), ["--iterations was 500 in the checkpoint's run, now 400"],
                       "--epochs is not a choice in a run sized in iterations")
    }
}
