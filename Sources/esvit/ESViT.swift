// The `esvit` command: its subcommands, the OpenBLAS kernel choice, and the refusal of a one-process
// command started as several tasks; what each subcommand holds is listed in docs/architecture.md.
import ArgumentParser
import ESBench
import ESDistributed
import ESKernels
import ESTrain
import Foundation

@main
struct ESViT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "esvit",
        abstract: "EsViT self-supervised pretraining (Swin + DINO view loss + EsViT region loss) on CPUs, over MPI.",
        discussion: """
        Quick start and the full guide: README.md. Every command explains its options with --help.
        """,
        subcommands: [Pretrain.self, EvalKNN.self, EvalLinear.self, EvalCorrespondence.self, EvalDense.self, Plot.self, Visualize.self, Prepare.self, Forward.self, ExportCommand.self, Bench.self, Doctor.self])

    static func main() {
        let note = BLASSetup.selectKernels()          // may re-exec with better OpenBLAS kernels
        if let note, isRankZero { FileHandle.standardError.write(Data((note + "\n").utf8)) }
        if let problem = BLASSetup.selfCheck() {
            FileHandle.standardError.write(Data(("error: " + problem + "\n").utf8))
            Foundation.exit(2)
        }
        // Like ParsableCommand.main, except that only rank 0 prints usage errors: under mpirun
        // every rank parses the same arguments and would print the same message N times.
        do {
            var command = try parseAsRoot(Array(CommandLine.arguments.dropFirst()))
            if let refusal = severalTasksRefusal(command) { exitEveryTask(LaunchMismatch.exitCode, message: refusal) }
            try command.run()
        } catch {
            if isRankZero { exit(withError: error) }
            // Give rank 0 time to print the message: once any rank exits non-zero, mpirun kills
            // the others, and a quiet rank that exits first could cut rank 0 off mid-message.
            usleep(1_000_000)
            Foundation.exit(exitCode(for: error).rawValue)
        }
    }

    /// Rank 0 (or a plain process) prints notes; other MPI ranks stay quiet.
    static var isRankZero: Bool { LaunchEnvironment().taskIndex == 0 }
}

/// A failure after the arguments were accepted (unreadable or mismatched files, …): printed as
/// "Error: …" without the usage banner, exit code 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// A benchmark's refusal of its settings as a usage error (exit 64, before any work).
func asValidation<T>(_ make: () throws -> T) throws -> T {
    do { return try make() } catch let e as BenchError { throw ValidationError(e.description) }
}

/// A library error as the command's error message.
@discardableResult func cli<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ValidationError { throw e } catch let e as CLIError { throw e } catch { throw CLIError("\(error)") }
}
