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

    /// The settings given on the command line (the words parse: validate() has run).
    var given: SettingRegistry<PretrainCommandLine>.Given { (try? PretrainSettings.registry.parse(words)) ?? [] }
    func gives(_ path: PartialKeyPath<PretrainCommandLine>) -> Bool { given.contains { $0.setting.path == path } }

    /// The command line resolved: the architecture's and dataset's defaults, the preset, the options given.
    public func commandLine() throws -> PretrainCommandLine {
        do { return try PretrainSettings.resolve(given: try PretrainSettings.registry.parse(words)) }
        catch let e as SettingError { throw ValidationError(e.description) }
        catch is SettingHelpRequest { throw CleanExit.helpRequest() }
    }
    /// The run's configuration.
    public func resolved() throws -> PretrainConfig { try commandLine().config }

    public var printPreset: Bool { gives(\.printPreset) }
    public var resume: Bool { gives(\.resume) }
    public var resumeFrom: String? { (try? commandLine())?.resumeFrom }
    public var preset: String? { (try? commandLine())?.config.preset }
    /// The named preset (nil: none given; an unknown name is refused by validate()).
    public var recipe: RecipePreset? { preset.flatMap(RecipePreset.named) }
}
