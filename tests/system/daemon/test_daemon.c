/*
 * shoald as a process: bad flags, safe modes on its roots, one daemon per
 * roots, clean shutdown on SIGTERM and SIGINT, and a malformed request that
 * harms nobody else. Each test runs the daemon on fresh temporary roots
 * and kills only the daemons it started.
 */
/* cmocka needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct roots {
	char dir[64];
	char data[128];
	char exec[128];
	char sock[160];
	char pidfile[160];
};

struct proc {
	pid_t pid;
	int err_fd;
};

static char shoald[PATH_MAX];

static void roots_make(struct roots *r)
{
	strcpy(r->dir, "/tmp/sdt.XXXXXX" /* short: exec-root <= 30 */);
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->data, sizeof(r->data), "%s/data", r->dir);
	snprintf(r->exec, sizeof(r->exec), "%s/exec", r->dir);
	snprintf(r->sock, sizeof(r->sock), "%s/shoald.sock", r->exec);
	snprintf(r->pidfile, sizeof(r->pidfile), "%s/shoald.pid", r->exec);
}

static void roots_remove(struct roots *r)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
	assert_int_equal(system(cmd), 0);
}

/* Start shoald with @args (NULL-terminated); stderr goes to a pipe. */
static struct proc spawn(const char *const *args)
{
	const char *argv[32] = {shoald};
	size_t n = 1;
	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 2);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		execv(shoald, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	return (struct proc){pid, p[0]};
}

static struct proc spawn_on(const struct roots *r)
{
	const char *args[] = {"--data-root", r->data, "--exec-root", r->exec,
			      NULL};
	return spawn(args);
}

/* Exit status of @p, or -1 if it did not exit within @secs. */
static int wait_exit(struct proc *p, int secs)
{
	for (int i = 0; i < secs * 100; i++) {
		int st;
		pid_t w = waitpid(p->pid, &st, WNOHANG);
		if (w == p->pid)
			return WIFEXITED(st) ? WEXITSTATUS(st)
					     : 128 + WTERMSIG(st);
		usleep(10000);
	}
	return -1;
}

static void read_err(struct proc *p, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	while (len + 1 < cap &&
	       (n = read(p->err_fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(p->err_fd);
}

static void stop(struct proc *p, int sig)
{
	kill(p->pid, sig);
	int st = wait_exit(p, 10);
	if (st < 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
	}
	close(p->err_fd);
	assert_int_equal(st, 0);
}

static int connect_to(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void wait_ready(const struct roots *r, struct proc *p)
{
	for (int i = 0; i < 500; i++) {
		int fd = connect_to(r->sock);
		if (fd >= 0) {
			close(fd);
			return;
		}
		assert_int_equal(waitpid(p->pid, NULL, WNOHANG), 0);
		usleep(10000);
	}
	fail_msg("shoald did not listen on %s", r->sock);
}

/* Send @req on @fd and read until @until appears (or EOF); into @out. */
static void exchange(int fd, const char *req, const char *until, char *out,
		     size_t cap)
{
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL),
			 (ssize_t)strlen(req));
	size_t len = 0;
	out[0] = '\0';
	while (len + 1 < cap && (!until || !strstr(out, until))) {
		ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		out[len] = '\0';
	}
}

static void ping_ok(int fd)
{
	char buf[2048];
	exchange(fd, "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n\r\nOK",
		 buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
}

static void bad_flags_exit_2_naming_the_flag(void **state)
{
	struct {
		const char *args[4];
		const char *says;
	} cases[] = {
		{{"--bogus", NULL}, "unknown flag: --bogus"},
		{{"--log-level", "loud", NULL}, "--log-level"},
		{{"--log-format=xml", NULL}, "expected text or json"},
		{{"--listen-addr", "1.2.3.4", NULL}, "ADDR:PORT"},
		{{"--listen-addr", "10.0.0.1:99999", NULL}, "--listen-addr"},
		{{"--data-root", "relative/dir", NULL}, "absolute path"},
		{{"--host", "tcp://0.0.0.0:2375", NULL}, "--host"},
		{{"--exec-root", NULL}, "flag needs an argument"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proc p = spawn(cases[i].args);
		char err[1024];
		read_err(&p, err, sizeof(err));
		assert_int_equal(wait_exit(&p, 10), 2);
		if (!strstr(err, cases[i].says))
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
				 cases[i].says);
	}
}

static void roots_get_safe_modes_and_sigterm_cleans_up(void **state)
{
	struct roots r;
	roots_make(&r);
	struct proc p = spawn_on(&r);
	wait_ready(&r, &p);
	struct stat st;
	assert_int_equal(stat(r.data, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(r.exec, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0711);
	assert_int_equal(stat(r.sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	FILE *f = fopen(r.pidfile, "r");
	assert_non_null(f);
	long pid = 0;
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	assert_int_equal(pid, p.pid);
	stop(&p, SIGTERM);
	assert_int_not_equal(stat(r.sock, &st), 0);
	assert_int_not_equal(stat(r.pidfile, &st), 0);
	/* And it starts again on the same roots, with the same id. */
	p = spawn_on(&r);
	wait_ready(&r, &p);
	stop(&p, SIGINT);
	assert_int_not_equal(stat(r.sock, &st), 0);
	roots_remove(&r);
}

static void second_daemon_on_the_same_roots_is_refused(void **state)
{
	struct roots r;
	roots_make(&r);
	struct proc a = spawn_on(&r);
	wait_ready(&r, &a);
	struct proc b = spawn_on(&r);
	char err[1024], want[64];
	read_err(&b, err, sizeof(err));
	assert_int_equal(wait_exit(&b, 10), 1);
	snprintf(want, sizeof(want), "another shoald (pid %ld)", (long)a.pid);
	if (!strstr(err, want))
		fail_msg("'%s' lacks '%s'", err, want);
	/* Same data-root, another exec-root: refused too. */
	char other[160], host[200];
	snprintf(other, sizeof(other), "%s/exec2", r.dir);
	snprintf(host, sizeof(host), "unix://%s/exec2/s.sock", r.dir);
	const char *args[] = {"--data-root", r.data, "--exec-root", other,
			      "--host",	     host,   NULL};
	b = spawn(args);
	read_err(&b, err, sizeof(err));
	assert_int_equal(wait_exit(&b, 10), 1);
	assert_non_null(strstr(err, "data-root"));
	/* Other roots, but the first one's socket: refused, left alone. */
	char d3[160], e3[160];
	snprintf(d3, sizeof(d3), "%s/data3", r.dir);
	snprintf(e3, sizeof(e3), "%s/exec3", r.dir);
	snprintf(host, sizeof(host), "unix://%s", r.sock);
	const char *args3[] = {"--data-root", d3,   "--exec-root", e3,
			       "--host",      host, NULL};
	b = spawn(args3);
	read_err(&b, err, sizeof(err));
	assert_int_equal(wait_exit(&b, 10), 1);
	if (!strstr(err, "another daemon answers there"))
		fail_msg("'%s' lacks the reason", err);
	/* The first one never noticed. */
	int fd = connect_to(r.sock);
	assert_true(fd >= 0);
	ping_ok(fd);
	close(fd);
	stop(&a, SIGTERM);
	roots_remove(&r);
}

static void malformed_request_harms_no_other_client(void **state)
{
	struct roots r;
	roots_make(&r);
	struct proc p = spawn_on(&r);
	wait_ready(&r, &p);
	int a = connect_to(r.sock);
	assert_true(a >= 0);
	ping_ok(a);
	int b = connect_to(r.sock);
	assert_true(b >= 0);
	char buf[2048];
	exchange(b, "\x16\x03\x01 not http at all\r\n\r\n", NULL, buf,
		 sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 400"));
	assert_non_null(strstr(buf, "{\"message\":"));
	close(b);
	ping_ok(a); /* same keep-alive connection */
	int c = connect_to(r.sock);
	assert_true(c >= 0);
	ping_ok(c);
	close(c);
	close(a);
	stop(&p, SIGTERM);
	roots_remove(&r);
}

int main(void)
{
	const char *bd = getenv("SHOAL_BUILD_DIR");
	snprintf(shoald, sizeof(shoald), "%s/daemon/shoald", bd ? bd : ".");
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_flags_exit_2_naming_the_flag),
		cmocka_unit_test(roots_get_safe_modes_and_sigterm_cleans_up),
		cmocka_unit_test(second_daemon_on_the_same_roots_is_refused),
		cmocka_unit_test(malformed_request_harms_no_other_client),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
