// The settings of one command in declaration order (= --help order = the order in which derived
// defaults are recomputed): parsing a command line into given settings, resolving them over a
// base value, the per-setting rules, --help, rendering, and the differences between two values.
import Foundation

/// A command line the registry refuses; the message is ArgumentParser's wording where it has one.
public struct SettingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// `-h` or `--help` among the words.
public struct SettingHelpRequest: Error {}

public struct SettingRegistry<Root> {
    public let settings: [Setting<Root>]
    private let index: [String: Int], pathIndex: [PartialKeyPath<Root>: Int]
    public typealias Given = [(setting: Setting<Root>, words: [String])]

    public init(_ settings: [Setting<Root>]) {
        self.settings = settings
        index = Dictionary(settings.enumerated().map { ($1.name, $0) }) { a, _ in preconditionFailure("setting \(settings[a].flag) declared twice") }
        pathIndex = Dictionary(settings.enumerated().map { ($1.path, $0) }) { a, _ in preconditionFailure("\(settings[a].flag): its field has two settings") }
    }

    public func named(_ name: String) -> Setting<Root>? { index[name].map { settings[$0] } }

    /// The setting of `path` (a declared field; anything else is a programming error).
    public subscript(_ path: PartialKeyPath<Root>) -> Setting<Root> {
        guard let i = pathIndex[path] else { preconditionFailure("no setting declared for \(path)") }
        return settings[i]
    }

    /// The fixed default of the setting at `path`.
    public func fixedDefault<V>(_ path: KeyPath<Root, V>) -> V {
        guard let v = self[path].fixedDefault as? V else { preconditionFailure("\(self[path].flag) has no fixed default of type \(V.self)") }
        return v
    }

    /// The words of a command line as given settings, in order. `--name value`, `--name=value`,
    /// negative numbers as values; unknown options are refused with the nearest name.
    public func parse(_ words: [String]) throws -> Given {
        func isOption(_ w: String) -> Bool { w.hasPrefix("-") && Double(w) == nil }
        var given: Given = [], i = 0
        while i < words.count {
            let w = words[i]
            if w == "-h" || w == "--help" { throw SettingHelpRequest() }
            guard w.hasPrefix("--") else { throw SettingError("Unexpected argument '\(w)'") }
            var name = String(w.dropFirst(2)), inline: String? = nil
            if let eq = name.firstIndex(of: "=") { inline = String(name[name.index(after: eq)...]); name = String(name[..<eq]) }
            guard let s = named(name) else { throw SettingError("Unknown option '--\(name)'" + hint(name)) }
            var values: [String] = []
            if let v = inline {
                if s.arity == 0 { throw SettingError("\(s.flag) takes no value") }
                values = [v]
            } else if s.arity != 0 {
                while i + 1 < words.count, !isOption(words[i + 1]), values.count < (s.arity ?? Int.max) { values.append(words[i + 1]); i += 1 }
                if values.isEmpty { throw SettingError("Missing value for '\(s.usage)'") }
            }
            given.append((s, values))
            i += 1
        }
        return given
    }

    /// " (did you mean '--lr'?)" for a name one or two edits from a setting's.
    func hint(_ name: String) -> String {
        let near = settings.map { ($0.flag, editDistance($0.name, name)) }.min { $0.1 < $1.1 }
        guard let (flag, d) = near, d <= 2 else { return "" }
        return " (did you mean '\(flag)'?)"
    }

    /// A change made by name rather than by words (a preset's typed value).
    public typealias Change = (path: PartialKeyPath<Root>, apply: (inout Root) -> Void)

    /// `base` with `changes` applied, then the given settings written in order (a later one
    /// wins), then every setting neither changed nor given whose default follows the others
    /// recomputed, in declaration order.
    public func resolve(_ base: Root, changes: [Change] = [], given: Given) throws -> Root {
        var r = base
        for c in changes { c.apply(&r) }
        for (s, words) in given where !s.assign(&r, words) {
            let value = words.joined(separator: " ")
            if let c = s.choices {
                throw SettingError("The value '\(value)' is invalid for '\(s.usage)'. Please provide one of \(Self.list(c.map { "'\($0)'" }, "or")).")
            }
            throw SettingError("The value '\(value)' is invalid for '\(s.usage)'")
        }
        let set = Set(given.map(\.setting.path) + changes.map(\.path))
        for s in settings where !set.contains(s.path) { s.follow?(&r) }
        return r
    }

    /// Every setting's own rule, in declaration order.
    public func problems(_ r: Root) -> [String] { settings.compactMap { $0.rule(r) } }

    /// The settings whose rendered values differ between `old` and `new`, as
    /// "--lr was 0.0005 in the checkpoint's run, now 0.002", for settings of `kind` unless `skip` says so.
    public func differences(_ old: Root, _ new: Root, kind: SettingKind, skip: (Setting<Root>) -> Bool = { _ in false }) -> [String] {
        settings.filter { $0.kind == kind && !skip($0) }.compactMap { s in
            let a = s.render(old), b = s.render(new)
            guard a != b else { return nil }
            func shown(_ w: [String]?) -> String { w.map { $0.isEmpty ? "set" : $0.joined(separator: " ") } ?? "not set" }
            return "\(s.flag) was \(shown(a)) in the checkpoint's run, now \(shown(b))"
        }
    }

    /// "a, b or c".
    static func list(_ items: [String], _ last: String) -> String {
        items.count < 2 ? items.joined() : items.dropLast().joined(separator: ", ") + " \(last) " + items.last!
    }
}

/// Levenshtein distance (small strings: option names).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)   // distances from a's first i characters to b's prefixes
    for (i, x) in a.enumerated() {
        var diagonal = row[0]; row[0] = i + 1
        for (j, y) in b.enumerated() {
            let above = row[j + 1]
            row[j + 1] = min(above + 1, row[j] + 1, diagonal + (x == y ? 0 : 1))
            diagonal = above
        }
    }
    return row[b.count]
}

extension SettingRegistry {
    /// The settings by section, as ArgumentParser lays out options: the usage in a 26-column
    /// margin, the help (with the choices and the default as `root` holds it) wrapped at `width`.
    public func help(defaults root: Root, width: Int = 80) -> String {
        var lines: [String] = [], section = ""
        for s in settings {
            if s.section != section { section = s.section; lines += ["", "\(section.uppercased()):"] }
            var text = s.help
            if let c = s.choices { text += " (values: \(c.joined(separator: ", ")))" }
            if let d = s.defaultText(root) { text += " (default: \(d))" }
            let label = "  " + s.usage
            let body = Self.wrap(text, width: width - 26)
            if label.count <= 24 {
                lines.append(label.padding(toLength: 26, withPad: " ", startingAt: 0) + body[0])
                lines += body.dropFirst().map { String(repeating: " ", count: 26) + $0 }
            } else {
                lines.append(label)
                lines += body.map { String(repeating: " ", count: 26) + $0 }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `text` broken into lines of at most `width` characters at spaces.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width { lines.append(line); line = "" }
            line += (line.isEmpty ? "" : " ") + word
        }
        return lines + [line]
    }
}
