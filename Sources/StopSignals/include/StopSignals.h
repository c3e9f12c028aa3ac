// Graceful-stop signals for long runs: SIGTERM (SLURM's time limit, scancel, kill), SIGINT
// (Ctrl-C) and SIGUSR1/SIGUSR2 (SLURM's --signal early warning) only record that a stop was
// asked for; the trainer polls, agrees with the other ranks, checkpoints and exits. A second
// SIGINT exits at once (exit code 130).
#ifndef ESVIT_STOP_SIGNALS_H
#define ESVIT_STOP_SIGNALS_H

/// Installs the handlers (idempotent; a signal already recorded is kept). Returns 0, or -1 if
/// sigaction failed.
int esvit_stop_install(void);
/// The first stop signal received since install (or reset), 0 if none.
int esvit_stop_signal(void);
/// Forgets a received signal (tests, and a run that has handled it).
void esvit_stop_reset(void);
/// Restores the default actions.
void esvit_stop_uninstall(void);

#endif
