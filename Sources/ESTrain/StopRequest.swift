// Graceful stop of a training run. SIGTERM (a SLURM time limit, scancel, kill, mpirun passing on
// its own TERM), SIGINT (Ctrl-C) and SIGUSR1/SIGUSR2 (SLURM's --signal early warning) are only
// recorded by the handler; after every iteration the ranks agree (the largest signal number any
// rank saw), so all stop after the same iteration, rank 0 writes the checkpoint, and the command
// exits with `exitCode`. A second Ctrl-C exits at once (130), without a checkpoint.
import ESDistributed
import Foundation
import StopSignals

public enum StopRequest {
    /// Exit code of a run stopped by a signal after its checkpoint was written (sysexits'
    /// EX_TEMPFAIL: "try again later" — the same command continues the run).
    public static let exitCode: Int32 = 75

    public static func install() { _ = esvit_stop_install() }
    /// Restores the default actions (after the run: a signal then ends the process as usual).
    public static func uninstall() { esvit_stop_uninstall() }
    /// The signal this process received, 0 if none.
    public static var local: Int32 { esvit_stop_signal() }
    /// Forgets a received signal (tests).
    public static func reset() { esvit_stop_reset() }

    /// The stop signal as every rank sees it (collective; 0: keep going).
    static func agreed(_ comm: Communicator) -> Int32 { comm.allReduceMax(local) }

    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGUSR1: return "SIGUSR1"
        case SIGUSR2: return "SIGUSR2"
        default: return "signal \(signal)"
        }
    }
}
