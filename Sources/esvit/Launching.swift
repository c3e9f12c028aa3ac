// The communicator every command starts with: MPI under a launcher, one process otherwise; a
// launch whose task count disagrees with MPI's world is refused here, before any work, with one
// line from the launcher's task 0 and exit code 78 on every task. A command that runs as one
// process, started as several tasks, is refused the same way (ESViT.main asks before running it).
import ArgumentParser
import ESDistributed
import Foundation

func launchCommunicator() -> Communicator {
    let launch = LaunchEnvironment()
    do {
        return try makeCommunicator(launch: launch)
    } catch {
        exitEveryTask(LaunchMismatch.exitCode, message: "\(error)")
    }
}

/// Ends this task with `code`; task 0 prints `message`, the others first give it a second (once
/// one task exits non-zero mpirun kills the rest, and could cut task 0 off mid-message).
func exitEveryTask(_ code: Int32, message: String) -> Never {
    if LaunchEnvironment().taskIndex == 0 { FileHandle.standardError.write(Data(("error: " + message + "\n").utf8)) } else { usleep(1_000_000) }
    exit(code)
}

/// Commands that spread their work over MPI ranks (pretrain, eval-knn, eval-linear's fast mode,
/// doctor). Every other command runs as one process.
protocol SpreadsOverRanks { var spreadsOverRanks: Bool { get } }

/// A one-process command started as several tasks (mpirun -np 2, srun -n 2) would do the whole
/// work once per task and write the same files: the refusal, before any work, or nil.
func severalTasksRefusal(_ command: ParsableCommand, launch: LaunchEnvironment = LaunchEnvironment(),
                         arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> String? {
    guard launch.tasks > 1, !((command as? SpreadsOverRanks)?.spreadsOverRanks ?? false) else { return nil }
    let name = (["esvit"] + arguments.prefix { !$0.hasPrefix("-") }.prefix(2)).joined(separator: " ")
    let hint = (command as? EvalLinear).map { _ in "; --mode fast spreads its features over ranks" } ?? ""
    return "\(name) runs as one process, but the launcher started \(launch.summary): each task would do the whole work and write "
        + "the same files. Run it as one plain process, without mpirun or srun\(hint)."
}

extension Pretrain: SpreadsOverRanks { var spreadsOverRanks: Bool { true } }
extension EvalKNN: SpreadsOverRanks { var spreadsOverRanks: Bool { true } }
extension EvalLinear: SpreadsOverRanks { var spreadsOverRanks: Bool { mode == .fast } }
extension Doctor: SpreadsOverRanks { var spreadsOverRanks: Bool { true } }
