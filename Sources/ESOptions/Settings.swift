// A registry of command-line settings: each setting is declared once — its name (the flag is
// "--" + name), the field it sets (a key path into the root value), its default, the rule its
// value must pass, whether it belongs to the recipe (what is learned: reported when a resumed run
// changes it) or to the run (where and how it runs), and its help. The declaration drives the
// parsing of the command line, --help, the rendering of values (presets, plans, notes) and the
// resume difference report. ESTrain's PretrainSettings is the registry of `esvit pretrain`.
import Foundation

/// Recipe settings change what is learned; run settings only where and how it runs.
public enum SettingKind: Sendable { case recipe, run }

/// A value written as words after its flag.
public protocol SettingValue {
    /// Words after the flag: 1, or nil for "every word up to the next option" (a list).
    static var arity: Int? { get }
    /// What --help and the messages show for the value ("n", "true|false", the choices).
    static var valueName: String? { get }
    init?(words: [String])
    var words: [String] { get }
}

extension SettingValue where Self: LosslessStringConvertible {
    public static var arity: Int? { 1 }
    public static var valueName: String? { nil }
    public init?(words: [String]) { guard words.count == 1 else { return nil }; self.init(words[0]) }
    public var words: [String] { [description] }
}
extension Int: SettingValue { public static var valueName: String? { "n" } }
extension UInt64: SettingValue { public static var valueName: String? { "n" } }
extension String: SettingValue { public static var valueName: String? { "path" } }
extension Bool: SettingValue { public static var valueName: String? { "true|false" } }
extension Float: SettingValue { public static var valueName: String? { "x" } }
extension Double: SettingValue {
    public static var valueName: String? { "x" }
    public init?(words: [String]) { guard words.count == 1, let v = Double(words[0]) else { return nil }; self = v }
    /// `%g`: what a person would type (0.0005, not 5e-04; 0.0333333 for 10/300).
    public var words: [String] { [String(format: "%g", self)] }
}
/// How a list is written: Doubles as words up to the next option ("--blur-sigma 0.1 0.5"),
/// Ints as one comma-separated word ("--depths 2,2,6,2").
public protocol SettingListElement {
    static var listArity: Int? { get }
    static func list(_ words: [String]) -> [Self]?
    static func words(_ list: [Self]) -> [String]
}
extension Double: SettingListElement {
    public static var listArity: Int? { nil }
    public static func list(_ words: [String]) -> [Double]? {
        let v = words.compactMap(Double.init)
        return !words.isEmpty && v.count == words.count ? v : nil
    }
    public static func words(_ list: [Double]) -> [String] { list.flatMap(\.words) }
}
extension Int: SettingListElement {
    public static var listArity: Int? { 1 }
    public static func list(_ words: [String]) -> [Int]? { words.count == 1 ? commaSeparated(words[0]) { Int($0) } : nil }
    public static func words(_ list: [Int]) -> [String] { [list.map(String.init).joined(separator: ",")] }
}
extension Array: SettingValue where Element: SettingListElement {
    public static var arity: Int? { Element.listArity }
    public static var valueName: String? { Element.listArity == 1 ? "n,n,…" : "min max" }
    public init?(words: [String]) { guard let v = Element.list(words) else { return nil }; self = v }
    public var words: [String] { Element.words(self) }
}
/// A choice among named cases; a wrong word is refused with the list.
public protocol SettingChoice: SettingValue, RawRepresentable, CaseIterable where RawValue == String {
    static var choices: [String] { get }
}
extension SettingChoice {
    public static var arity: Int? { 1 }
    public static var valueName: String? { nil }
    public init?(words: [String]) { guard words.count == 1, let v = Self(rawValue: words[0]) else { return nil }; self = v }
    public var words: [String] { [rawValue] }
    public static var choices: [String] { allCases.map(\.rawValue) }
}

/// Where a setting's value comes from when the command line does not give it.
public enum SettingDefault<Root, V> {
    /// This value (the one place it is written; the root type's field initialiser reads it here).
    case value(V)
    /// Whatever the base value of the root holds; --help shows the text, or without one the base's value.
    case base(String?)
    /// Recomputed from the settings declared before it, unless given (e.g. the patch size from
    /// --arch, a crop size from the construction size); the text says from what.
    case follows(String, (Root) -> V)
    /// None: an optional setting that is nil unless given.
    case none
}

/// One declared setting (type-erased: the closures carry the value type).
public struct Setting<Root> {
    public let name: String
    public var flag: String { "--" + name }
    public let kind: SettingKind
    public let section: String
    public let help: String
    public let path: PartialKeyPath<Root>
    /// Words after the flag (0: a flag that sets true; nil: up to the next option).
    public let arity: Int?
    public let valueName: String
    /// The default as --help shows it (nil: none shown).
    public let defaultText: ((Root) -> String?)
    /// The fixed default, for the root type's field initialiser.
    let fixedDefault: Any?
    /// Parses the words into the field; false when they do not parse.
    let assign: (inout Root, [String]) -> Bool
    /// The value as command-line words (nil: an optional that is not set).
    public let render: (Root) -> [String]?
    /// Recomputes a `.follows` default.
    let follow: ((inout Root) -> Void)?
    /// The allowed words, for a choice (nil otherwise).
    let choices: [String]?
    let rule: (Root) -> String?

    /// "--lr <lr>": how messages name the option.
    public var usage: String { arity == 0 ? flag : "\(flag) <\(valueName)>" }
}

/// A rule a value must pass; the message names the flag.
public struct SettingRule<V> {
    let check: (_ flag: String, _ value: V) -> String?
    public init(_ check: @escaping (_ flag: String, _ value: V) -> String?) { self.check = check }
    public static var any: SettingRule<V> { SettingRule { _, _ in nil } }
}
extension SettingRule where V: Comparable & SettingValue {
    /// "--epochs must be ≥ 1" (with `note`: "--clip-grad must be ≥ 0 (0 turns clipping off)").
    public static func atLeast(_ m: V, _ note: String = "") -> SettingRule<V> {
        SettingRule { $1 >= m ? nil : "\($0) must be ≥ \(m.words.joined(separator: " "))" + (note.isEmpty ? "" : " (\(note))") }
    }
    /// "--teacher-temp must be > 0".
    public static func above(_ m: V) -> SettingRule<V> { SettingRule { $1 > m ? nil : "\($0) must be > \(m.words.joined(separator: " "))" } }
}
extension SettingRule where V: BinaryFloatingPoint {
    /// "--warmup-fraction must be in [0, 1) (a fraction of the run), got 1.0".
    public static var fraction: SettingRule<V> {
        SettingRule { $1 >= 0 && $1 < 1 ? nil : "\($0) must be in [0, 1) (a fraction of the run), got \($1)" }
    }
    /// "--momentum-teacher must be in [0, 1), got 1.0".
    public static var unitInterval: SettingRule<V> { SettingRule { $1 >= 0 && $1 < 1 ? nil : "\($0) must be in [0, 1), got \($1)" } }
}

extension Setting {
    /// A setting of type V at `path`.
    public static func value<V: SettingValue>(_ name: String, _ path: WritableKeyPath<Root, V>, _ kind: SettingKind, section: String,
                                              default d: SettingDefault<Root, V>, rule: SettingRule<V> = .any, valueName: String? = nil,
                                              help: String) -> Setting {
        let shown: (Root) -> String?
        var fixed: Any? = nil, follow: ((inout Root) -> Void)? = nil
        switch d {
        case .value(let v): fixed = v; shown = { _ in v.words.joined(separator: " ") }
        case .base(let text): shown = { text ?? $0[keyPath: path].words.joined(separator: " ") }
        case .follows(let text, let f): shown = { _ in text }; follow = { $0[keyPath: path] = f($0) }
        case .none: shown = { _ in nil }
        }
        return Setting(name: name, kind: kind, section: section, help: help, path: path, arity: V.arity,
                       valueName: valueName ?? V.valueName ?? name, defaultText: shown, fixedDefault: fixed,
                       assign: { root, w in guard let v = V(words: w) else { return false }; root[keyPath: path] = v; return true },
                       render: { $0[keyPath: path].words }, follow: follow, choices: (V.self as? any SettingChoice.Type)?.choices,
                       rule: { rule.check("--" + name, $0[keyPath: path]) })
    }

    /// An optional setting: nil unless given (or unless its default follows the others).
    public static func optional<V: SettingValue>(_ name: String, _ path: WritableKeyPath<Root, V?>, _ kind: SettingKind, section: String,
                                                 default text: String? = nil, rule: SettingRule<V> = .any, valueName: String? = nil,
                                                 help: String) -> Setting {
        Setting(name: name, kind: kind, section: section, help: help, path: path, arity: V.arity,
                valueName: valueName ?? V.valueName ?? name, defaultText: { _ in text }, fixedDefault: nil,
                assign: { root, w in guard let v = V(words: w) else { return false }; root[keyPath: path] = v; return true },
                render: { $0[keyPath: path]?.words }, follow: nil, choices: (V.self as? any SettingChoice.Type)?.choices,
                rule: { r in r[keyPath: path].flatMap { rule.check("--" + name, $0) } })
    }

    /// A flag: given, it sets the field to true.
    public static func flag(_ name: String, _ path: WritableKeyPath<Root, Bool>, _ kind: SettingKind, section: String, help: String) -> Setting {
        Setting(name: name, kind: kind, section: section, help: help, path: path, arity: 0, valueName: "", defaultText: { _ in nil },
                fixedDefault: false, assign: { root, w in root[keyPath: path] = true; return w.isEmpty },
                render: { $0[keyPath: path] ? [] : nil }, follow: nil, choices: nil, rule: { _ in nil })
    }
}
