// The communicator every command starts with: MPI under a launcher, one process otherwise; a
// launch whose task count disagrees with MPI's world is refused here, before any work, with one
// line from the launcher's task 0 and exit code 78 on every task.
import ESDistributed
import Foundation

func launchCommunicator() -> Communicator {
    let launch = LaunchEnvironment()
    do {
        return try makeCommunicator(launch: launch)
    } catch {
        if launch.taskIndex == 0 { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
        exit(LaunchMismatch.exitCode)
    }
}
