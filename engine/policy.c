/*
 * Restart policies and signals: pure functions, no clock and no I/O, so
 * the unit tests pin Docker's rules without waiting for anything.
 *
 * Docker's restart manager (moby restartmanager/restartmanager.go) is the
 * reference: the delay before a restart starts at 100 ms and doubles
 * after every restart up to one minute; a run that lasted at least 10 s
 * sets it back to 100 ms. always and unless-stopped restart on any exit,
 * on-failure only on a non-zero one and at most MaximumRetryCount times
 * when that is above 0; a stop or kill by the user cancels the restart of
 * that run whatever the policy. The texts of the errors are Docker's
 * (api/types/container/hostconfig.go, ValidateRestartPolicy).
 */
#include "engine/internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const policy_names[] = {
	[ENG_RESTART_NO] = "no",
	[ENG_RESTART_ALWAYS] = "always",
	[ENG_RESTART_ON_FAILURE] = "on-failure",
	[ENG_RESTART_UNLESS_STOPPED] = "unless-stopped",
};

const char *eng_restart_name(enum eng_restart kind)
{
	if ((size_t)kind >= sizeof(policy_names) / sizeof(policy_names[0]))
		return "no";
	return policy_names[kind];
}

int eng_restart_parse(const char *name, int64_t max_retries,
		      struct eng_restart_policy *out, struct shoal_err *err)
{
	out->kind = ENG_RESTART_NO;
	out->max_retries = 0;
	if (!name || !*name)
		return 0; /* before Docker 25: "" with any count meant no */
	for (size_t i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]);
	     i++) {
		if (strcmp(name, policy_names[i]) != 0)
			continue;
		if (i == ENG_RESTART_ON_FAILURE) {
			if (max_retries < 0) {
				eng__err(err, "invalid restart policy: maximum "
					      "retry count cannot be negative");
				return -EINVAL;
			}
			out->kind = ENG_RESTART_ON_FAILURE;
			out->max_retries = max_retries > INT32_MAX
						   ? INT32_MAX
						   : (int)max_retries;
			return 0;
		}
		if (max_retries != 0) {
			eng__err(err,
				 "invalid restart policy: maximum retry count "
				 "can only be used with 'on-failure'%s",
				 max_retries < 0 ? " and cannot be negative"
						 : "");
			return -EINVAL;
		}
		out->kind = (enum eng_restart)i;
		return 0;
	}
	eng__err(err,
		 "invalid restart policy: unknown policy '%s'; use one of "
		 "'no', 'always', 'on-failure', or 'unless-stopped'",
		 name);
	return -EINVAL;
}

bool eng_restart_wanted(const struct eng_restart_policy *p, int exit_code,
			bool stopped_by_user, int restart_count)
{
	if (stopped_by_user)
		return false;
	switch (p->kind) {
	case ENG_RESTART_ALWAYS:
	case ENG_RESTART_UNLESS_STOPPED:
		return true;
	case ENG_RESTART_ON_FAILURE:
		return exit_code != 0 &&
		       (p->max_retries == 0 || restart_count < p->max_retries);
	default:
		return false;
	}
}

uint64_t eng_restart_delay(uint64_t prev_ms, int64_t ran_ns)
{
	uint64_t d = prev_ms;

	if (ran_ns >= ENG_BACKOFF_RESET_NS)
		d = 0;
	if (d == 0)
		d = ENG_BACKOFF_FIRST_MS;
	else if (d < ENG_BACKOFF_MAX_MS)
		d *= 2;
	return d > ENG_BACKOFF_MAX_MS ? ENG_BACKOFF_MAX_MS : d;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{"HUP", SIGHUP},       {"INT", SIGINT},	  {"QUIT", SIGQUIT},
	{"ILL", SIGILL},       {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},
	{"BUS", SIGBUS},       {"FPE", SIGFPE},	  {"KILL", SIGKILL},
	{"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
	{"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},
	{"CHLD", SIGCHLD},     {"CONT", SIGCONT}, {"STOP", SIGSTOP},
	{"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
	{"URG", SIGURG},       {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
	{"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
	{"IO", SIGIO},	       {"PWR", SIGPWR},	  {"SYS", SIGSYS},
};

int eng_signal_parse(const char *s)
{
	char *end;
	long n;

	if (!s || !*s)
		return -EINVAL;
	n = strtol(s, &end, 10);
	if (*end == '\0')
		return n > 0 && n < 65 ? (int)n : -EINVAL;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (!strcasecmp(s, signals[i].name))
			return signals[i].sig;
	return -EINVAL;
}
