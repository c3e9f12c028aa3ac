// Async-signal-safe recording of stop requests (see include/StopSignals.h).
#include "StopSignals.h"
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t first_signal = 0;
static const int stop_signals[] = {SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
enum { stop_signal_count = sizeof(stop_signals) / sizeof(stop_signals[0]) };

static void on_stop_signal(int sig) {
    if (first_signal != 0 && sig == SIGINT) {
        static const char msg[] = "\nesvit: second interrupt: exiting now without a checkpoint\n";
        ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)ignored;
        _exit(130);
    }
    if (first_signal == 0) first_signal = sig;
}

int esvit_stop_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < stop_signal_count; i++)
        if (sigaction(stop_signals[i], &sa, NULL) != 0) return -1;
    return 0;
}

int esvit_stop_signal(void) { return first_signal; }

void esvit_stop_reset(void) { first_signal = 0; }

void esvit_stop_uninstall(void) {
    for (int i = 0; i < stop_signal_count; i++) signal(stop_signals[i], SIG_DFL);
}
