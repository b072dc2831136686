/* signals.c — stop signals. SIGUSR2 (Slurm's warning signal, the default in
 * sbatch/), SIGTERM (scancel, step kill), SIGUSR1 and SIGINT: the handler only
 * records the signal number in a sig_atomic_t; the training loop polls
 * zt_signal_pending() at step boundaries and the ranks agree on stopping.
 * The handlers are installed with SA_RESTART so that blocking reads/writes
 * are not cut short by the warning signal. */
#include "zt_launcher.h"

#include <signal.h>  /* sigaction, sig_atomic_t, raise */
#include <string.h>  /* memset */

static volatile sig_atomic_t g_pending;   /* last stop signal, 0 if none */
static volatile sig_atomic_t g_installed;

static void on_stop_signal(int signo) { g_pending = signo; }

static const int k_stop_signals[] = {SIGUSR2, SIGTERM, SIGUSR1, SIGINT};

void zt_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < sizeof k_stop_signals / sizeof k_stop_signals[0]; i++)
        sigaction(k_stop_signals[i], &sa, NULL);
    g_installed = 1;
}

int zt_signal_pending(void) { return (int)g_pending; }

void zt_signal_clear(void) { g_pending = 0; }

/* Deliver signo to this process the real way when the handlers are in
 * place; otherwise only record it (a raise() would kill the test). */
void zt_signal_raise_for_test(int signo) {
    if (g_installed) raise(signo);
    else g_pending = signo;
}
