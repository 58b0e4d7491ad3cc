/* Interrupted runs: SIGINT, SIGTERM and SIGHUP are taken by a thread of their own, which removes the run's staging
 * folders before the signal ends the process, so a Ctrl-C leaves no partial results behind. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static sigset_t caught;
static pthread_t signal_thread;

/* Waits for a caught signal; removes every open stage (after a commit in progress), says so, then lets the signal
 * end the process as it would have without this thread. */
static void *wait_for_signal(void *arg)
{
	(void)arg;
	int sig;
	if (sigwait(&caught, &sig) != 0)
		return NULL;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL); /* exit() now waits for this thread, which ends it */
	if (qs_stage_discard_all())
		fprintf(stderr, "%sqscope: interrupted (%s); the results of this run were not written\n",
			isatty(STDERR_FILENO) ? "\n" : "", strsignal(sig));
	signal(sig, SIG_DFL);
	sigset_t only;
	sigemptyset(&only);
	sigaddset(&only, sig);
	pthread_sigmask(SIG_UNBLOCK, &only, NULL);
	raise(sig);
	_exit(128 + sig); /* not reached: the signal's default action ends the process */
}

/* At exit: ends the signal thread (sigwait is a cancellation point), so that no thread outlives main. */
static void stop_signal_thread(void)
{
	pthread_cancel(signal_thread);
	pthread_join(signal_thread, NULL);
}

int qs_cli_catch_signals(void)
{
	sigemptyset(&caught);
	sigaddset(&caught, SIGINT);
	sigaddset(&caught, SIGTERM);
	sigaddset(&caught, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &caught, NULL) != 0 ||
	    pthread_create(&signal_thread, NULL, wait_for_signal, NULL) != 0) {
		pthread_sigmask(SIG_UNBLOCK, &caught, NULL);
		return -1;
	}
	atexit(stop_signal_thread);
	return 0;
}
