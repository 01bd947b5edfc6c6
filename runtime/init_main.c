/*
 * shoal-init: the small init `docker run --init` puts in front of the
 * user's command (Docker's /sbin/docker-init, which is tini). It is
 * bind-mounted read-only at /sbin/docker-init and runs as pid 1 of the
 * container with the command as its one child:
 *
 *   /sbin/docker-init [-g] -- CMD [ARG...]
 *
 * Pid 1 of a pid namespace gets no default signal actions, and every
 * orphan of the container is re-parented to it. A shell or a server that
 * never expected either leaves zombies behind and ignores `docker stop`'s
 * SIGTERM; this init fixes both. It blocks every signal and waits for them
 * with sigwaitinfo(): SIGCHLD reaps every exited process (waitpid(-1,
 * WNOHANG) until none is left), any other signal is forwarded to the child
 * (with -g to the child's process group: the child leads a process group
 * of its own, foreground on the tty when there is one). When the child
 * exits the init exits with its status, 128 + the signal number if a
 * signal ended it, as tini does; the processes left behind go with the
 * pid namespace.
 *
 * Built static and without the project's libraries (runtime/CMakeLists.txt)
 * because it runs inside any image. No allocation, no stdio but one error
 * line on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "shoal-init: %s%s%s: %s\n", what, arg ? " " : "",
		arg ? arg : "", strerror(errno));
	_exit(127);
}

/* In the child: own process group, foreground on the tty, default
 * signals, then the command. */
static void run_child(char **argv, const sigset_t *orig)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};

	setpgid(0, 0);
	if (isatty(STDIN_FILENO)) {
		signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(STDIN_FILENO, getpgrp());
	}
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL);
	sigprocmask(SIG_SETMASK, orig, NULL);
	execvp(argv[0], argv);
	die("exec", argv[0]);
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

/* Reap every exited process; true (and *@code) once @child is one. */
static int reap(pid_t child, int *code)
{
	int status, done = 0;
	pid_t p;

	while ((p = waitpid(-1, &status, WNOHANG)) > 0)
		if (p == child) {
			*code = exit_code(status);
			done = 1;
		}
	return done;
}

int main(int argc, char **argv)
{
	sigset_t all, orig;
	siginfo_t si;
	int group = 0, i = 1, code = 0;
	pid_t child;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "-g"))
			group = 1;
		else {
			fprintf(stderr, "shoal-init: unknown option %s\n",
				argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		fprintf(stderr,
			"usage: shoal-init [-g] -- command [argument...]\n");
		return 2;
	}
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &orig);
	child = fork();
	if (child < 0)
		die("fork", NULL);
	if (child == 0)
		run_child(argv + i, &orig);
	for (;;) {
		if (sigwaitinfo(&all, &si) < 0) {
			if (errno == EINTR)
				continue;
			die("sigwaitinfo", NULL);
		}
		if (si.si_signo == SIGCHLD) {
			if (reap(child, &code))
				return code;
			continue;
		}
		/* Job control stops of the init itself make no sense. */
		if (si.si_signo == SIGTTIN || si.si_signo == SIGTTOU)
			continue;
		if (kill(group ? -child : child, si.si_signo) < 0 &&
		    errno != ESRCH)
			die("kill", NULL);
	}
}
