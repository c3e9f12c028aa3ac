// From the words of a pretrain command line to the run's configuration (the architecture's and
// dataset's defaults, then the preset, then the options given, then every default that follows
// the others) and the cross-field rules that refuse a command before any work.
import ArgumentParser
import ESData
import ESDistributed
import ESModel
import ESOptions
import Foundation

extension PretrainSettings {
    /// The run length is one choice: a length given on the command line replaces the preset's.
    static let runLength: [PartialKeyPath<PretrainCommandLine>] = [\.config.epochs, \.config.iterations, \.config.timeBudgetMinutes]

    /// `given` over the defaults of its architecture and the changes of its preset.
    public static func resolve(given: SettingRegistry<PretrainCommandLine>.Given) throws -> PretrainCommandLine {
        let choices = given.filter { [\PretrainCommandLine.config.arch, \.config.preset].contains($0.setting.path) }
        let first = try registry.resolve(PretrainCommandLine(config: PretrainConfig()), given: choices)
        var changes: [SettingRegistry<PretrainCommandLine>.Change] = []
        if let name = first.config.preset {
            guard let p = RecipePreset.named(name) else {
                throw SettingError("unknown \(flag(\.config.preset)) '\(name)'; choose one of \(RecipePreset.all.map(\.name).joined(separator: ", "))")
            }
            let lengthGiven = given.contains { runLength.contains($0.setting.path) }
            changes = p.settings.filter { !(lengthGiven && runLength.contains($0.path)) }.map { ($0.path, $0.change) }
        }
        var line = try registry.resolve(PretrainCommandLine(config: PretrainConfig(arch: first.config.arch)), changes: changes, given: given)
        line.config.crops.mean = line.config.dataset.mean; line.config.crops.std = line.config.dataset.std
        return line
    }
}

extension PretrainOptions {
    public func validate() throws {
        let (given, line) = try parsed()
        if line.printPreset { return }
        let c = line.config
        func flag(_ p: PartialKeyPath<PretrainCommandLine>) -> String { PretrainSettings.flag(p) }
        func gives(_ p: PartialKeyPath<PretrainCommandLine>) -> Bool { given.contains { $0.setting.path == p } }
        if !gives(\.config.outputDir) {
            throw ValidationError("missing \(flag(\.config.outputDir)) DIR: the folder for checkpoints, log.txt and config.json (a run already there is resumed)")
        }
        if gives(\.config.iterations) && gives(\.config.timeBudgetMinutes) {
            let iterations = flag(\.config.iterations)
            throw ValidationError("use either \(iterations) or \(flag(\.config.timeBudgetMinutes)), not both (a budgeted run prints the \(iterations) that reproduces it)")
        }
        if (gives(\.config.iterations) || gives(\.config.timeBudgetMinutes)) && gives(\.config.epochs) {
            throw ValidationError("\(flag(\.config.epochs)) sizes the run in epochs; with \(flag(\.config.iterations)) or \(flag(\.config.timeBudgetMinutes)) leave it out (the run length is set by those)")
        }
        if c.iterationMode {
            for (epochs, fraction) in [(\PretrainCommandLine.config.warmupEpochs, \PretrainCommandLine.config.warmupFraction),
                                       (\.config.warmupTeacherTempEpochs, \.config.warmupTeacherTempFraction),
                                       (\.config.freezeLastLayer, \.config.freezeLastLayerFraction)] where gives(epochs) {
                throw ValidationError("\(flag(epochs)) counts epochs, but this run is sized by \(flag(\.config.iterations))/\(flag(\.config.timeBudgetMinutes)); use \(flag(fraction)) (a fraction of the run) instead")
            }
        }
        if c.dataset.defaultPath == nil && !gives(\.config.dataPath) { throw ValidationError("\(flag(\.config.dataset)) \(c.dataset) needs \(flag(\.config.dataPath)) (\(c.dataset.installHint))") }
        if let p = c.problems().first { throw ValidationError(p) }
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: c.dataPath, isDirectory: &isDir) || !isDir.boolValue {
            throw ValidationError("\(flag(\.config.dataPath)) \(c.dataPath) is not a folder (\(c.dataset.installHint))")
        }
        if let w = c.initWhich, !["teacher", "student"].contains(w) { throw ValidationError("\(flag(\.config.initWhich)) takes teacher or student, got '\(w)'") }
        if c.initFrom == nil && (c.initWhich != nil || c.initPrefix != nil) { throw ValidationError("\(flag(\.config.initWhich)) and \(flag(\.config.initPrefix)) need \(flag(\.config.initFrom)) FILE") }
        if line.resume && line.resumeFrom != nil { throw ValidationError("use either \(flag(\.resume)) (the checkpoint in \(flag(\.config.outputDir))) or \(flag(\.resumeFrom)) PATH, not both") }
        // Files only rank 0 reads (--output-dir may live on rank 0's node alone): checked here for a
        // plain process; under a launcher rank 0 makes the same check after MPI starts (exit 64 too).
        if LaunchEnvironment().tasks == 1,
           let m = RunFiles(dir: c.outputDir).missingInput(resume: line.resume, resumeFrom: line.resumeFrom, initFrom: c.initFrom) {
            throw ValidationError(m)
        }
    }
}
