// `esvit pretrain`'s command line, as a library so tests parse it in-process. ArgumentParser
// hands every word to the settings registry (PretrainSettings), which declares each option once;
// validate() resolves them (defaults, then the preset, then the options given) and checks every
// rule before MPI starts or any data is read. A refused command line exits 64 with one message.
import ArgumentParser
import ESOptions
import Foundation

public struct PretrainOptions: ParsableArguments {
    public init() {}
    /// The command line's words, read by the settings registry.
    @Argument(parsing: .captureForPassthrough, help: .hidden) public var words: [String] = []

    /// The settings given on the command line, and the command line they resolve to: the
    /// architecture's and dataset's defaults, the preset, the options given.
    func parsed() throws -> (given: SettingRegistry<PretrainCommandLine>.Given, line: PretrainCommandLine) {
        do {
            let given = try PretrainSettings.registry.parse(words)
            return (given, try PretrainSettings.resolve(given: given))
        }
        catch let e as SettingError { throw ValidationError(e.description) }
        catch is SettingHelpRequest { throw CleanExit.helpRequest() }
    }
    /// The command line resolved.
    public func commandLine() throws -> PretrainCommandLine { try parsed().line }
    /// The run's configuration.
    public func resolved() throws -> PretrainConfig { try commandLine().config }

    /// `--print-preset` was given (the words parse: validate() has run).
    public var printPreset: Bool { (try? commandLine())?.printPreset ?? false }
    /// The named preset (nil: none given; an unknown name is refused by validate()).
    public var recipe: RecipePreset? { (try? commandLine())?.config.preset.flatMap(RecipePreset.named) }
}
