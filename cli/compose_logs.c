/*
 * `shoal compose ps` and `logs`, and what a foreground `up` does once the
 * containers run: follow each container's log in a child of its own
 * (`logs -f`), print its lines after "NAME | " as docker-compose does,
 * and on ^C stop the project's containers. The children are this
 * process's own, ended by their pid and waited for.
 */
#include "cli/compose.h"
#include "cli/swarm_call.h"
#include "cli/table.h"
#include "common/jsonx.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ctr_name(const json_t *c);

/* ----------------------------------------------------- foreground up */

#define FOLLOW_MAX 64

struct follower {
	pid_t pid;
	int fd;
	char name[256];
	char id[80];
	char line[8192];
	size_t n;
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int signo)
{
	(void)signo;
	interrupted = 1;
}

/* A child running `logs -f ID` with its output into a pipe. */
static int spawn_logs(struct cli *cli, struct follower *f)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	f->pid = fork();
	if (f->pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (f->pid == 0) {
		char *av[] = {(char *)"logs", (char *)"-f", f->id, NULL};
		signal(SIGINT, SIG_IGN);
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		_exit(cli_ctr_logs(cli, 3, av));
	}
	close(pfd[1]);
	f->fd = pfd[0];
	return 0;
}

static void emit(struct follower *f, size_t width, const char *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (p[k] == '\n' || f->n == sizeof(f->line) - 1) {
			printf("%-*s | %.*s\n", (int)width, f->name, (int)f->n,
			       f->line);
			f->n = 0;
			if (p[k] == '\n')
				continue;
		}
		f->line[f->n++] = p[k];
	}
	fflush(stdout);
}

/* After a foreground `up`: every container's log, prefixed, until they
 * all end or ^C, which stops the project's containers (docker-compose's
 * "Gracefully stopping..."). */
int cli__compose_follow(struct cli *cli, const struct project *p, int argc,
			char **argv)
{
	struct follower *fs = calloc(FOLLOW_MAX, sizeof(*fs));
	struct pollfd pfds[FOLLOW_MAX];
	struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term;
	json_t *all = cli__compose_by_label(cli, "/containers/json?all=1",
					    p->name, NULL);
	size_t n = 0, width = 0, i, open_fds;
	json_t *c;
	if (!fs || !all) {
		free(fs);
		json_decref(all);
		return 1;
	}
	json_array_foreach(all, i, c)
	{
		const char *svc =
			jsonx_str(jsonx_obj(c, "Labels"), S_LABEL, "");
		bool pick = argc <= 1;
		for (int a = 1; a < argc; a++)
			pick |= !strcmp(argv[a], svc);
		if (!pick || n == FOLLOW_MAX)
			continue;
		snprintf(fs[n].name, sizeof(fs[n].name), "%s", ctr_name(c));
		snprintf(fs[n].id, sizeof(fs[n].id), "%s",
			 jsonx_str(c, "Id", ""));
		if (strlen(fs[n].name) > width)
			width = strlen(fs[n].name);
		n++;
	}
	json_decref(all);
	interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	printf("Attaching to");
	for (i = 0; i < n; i++)
		printf("%s %s", i ? "," : "", fs[i].name);
	printf("\n");
	for (i = 0; i < n; i++) {
		if (spawn_logs(cli, &fs[i]) < 0)
			fs[i].fd = -1;
		pfds[i] = (struct pollfd){.fd = fs[i].fd, .events = POLLIN};
	}
	open_fds = n;
	while (open_fds && !interrupted) {
		if (poll(pfds, n, -1) < 0)
			continue; /* EINTR: the loop sees the flag */
		for (i = 0; i < n; i++) {
			char buf[4096];
			ssize_t r;
			if (pfds[i].fd < 0 || !pfds[i].revents)
				continue;
			r = read(pfds[i].fd, buf, sizeof(buf));
			if (r > 0) {
				emit(&fs[i], width, buf, (size_t)r);
				continue;
			}
			if (fs[i].n)
				emit(&fs[i], width, "\n", 1);
			close(pfds[i].fd);
			pfds[i].fd = -1;
			open_fds--;
			printf("%s exited\n", fs[i].name);
		}
	}
	if (interrupted) {
		printf("Gracefully stopping...\n");
		for (i = 0; i < n; i++) {
			char path[200];
			printf("Stopping %s\n", fs[i].name);
			fflush(stdout);
			snprintf(path, sizeof(path), "/containers/%s/stop",
				 fs[i].id);
			cli_call(cli, "POST", path, NULL, 0, NULL, NULL, 304);
		}
	}
	for (i = 0; i < n; i++) {
		if (fs[i].pid > 0) {
			kill(fs[i].pid, SIGTERM);
			waitpid(fs[i].pid, NULL, 0);
		}
		if (pfds[i].fd >= 0)
			close(pfds[i].fd);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	free(fs);
	return interrupted ? 130 : 0;
}

/* ------------------------------------------------------------ ps, logs */

static int by_ctr_name(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a,
		     *y = *(const json_t *const *)b;
	return strcmp(json_string_value(
			      json_array_get(json_object_get(x, "Names"), 0))
			      ?: "",
		      json_string_value(
			      json_array_get(json_object_get(y, "Names"), 0))
			      ?: "");
}

/* The project's containers sorted by name (array owned, items borrowed
 * from *@all). */
static const json_t **sorted(struct cli *cli, const struct project *p,
			     json_t **all, size_t *n)
{
	*all = cli__compose_by_label(cli, "/containers/json?all=1", p->name,
				     NULL);
	if (!*all)
		return NULL;
	*n = json_array_size(*all);
	const json_t **v = calloc(*n + 1, sizeof(*v));
	for (size_t i = 0; v && i < *n; i++)
		v[i] = json_array_get(*all, i);
	if (v)
		qsort(v, *n, sizeof(*v), by_ctr_name);
	return v;
}

static const char *ctr_name(const json_t *c)
{
	const char *n = json_string_value(
		json_array_get(json_object_get(c, "Names"), 0));
	return n ? n + (*n == '/') : "";
}

int cli__compose_ps(struct cli *cli, struct project *p, int argc, char **argv)
{
	bool quiet = false;
	struct cli_flag flags[] = {{"quiet", 'q', CLI_FLAG_BOOL, &quiet}};
	int first = cli_flags("compose ps", flags, 1, argc, argv, true);
	if (first == -2) {
		printf("Usage:  shoal compose ps [-q]\n\nList containers\n");
		return 0;
	}
	if (first < 0)
		return 1;
	json_t *all;
	size_t n;
	const json_t **v = sorted(cli, p, &all, &n);
	if (!v)
		return 1;
	static const char *const hdr[] = {"NAME", "SERVICE", "STATUS", "PORTS"};
	struct cli_table *t = NULL;
	if (!quiet && cli_table_new(4, hdr, &t) < 0)
		t = NULL;
	for (size_t i = 0; i < n; i++) {
		char ports[512] = "";
		size_t k;
		json_t *pt;
		if (quiet) {
			printf("%s\n", jsonx_str(v[i], "Id", ""));
			continue;
		}
		json_array_foreach(json_object_get(v[i], "Ports"), k, pt)
		{
			size_t l = strlen(ports);
			if (jsonx_int(pt, "PublicPort", 0))
				snprintf(ports + l, sizeof(ports) - l,
					 "%s%s:%lld->%lld/%s", l ? ", " : "",
					 jsonx_str(pt, "IP", "0.0.0.0"),
					 (long long)jsonx_int(pt, "PublicPort",
							      0),
					 (long long)jsonx_int(pt, "PrivatePort",
							      0),
					 jsonx_str(pt, "Type", "tcp"));
		}
		const char *cells[] = {
			ctr_name(v[i]),
			jsonx_str(jsonx_obj(v[i], "Labels"), S_LABEL, ""),
			jsonx_str(v[i], "Status", ""), ports};
		if (t)
			cli_table_add(t, cells);
	}
	if (t) {
		cli_table_print(t, stdout);
		cli_table_free(t);
	}
	free(v);
	json_decref(all);
	return 0;
}

/* One container's log body (multiplexed unless @tty), each line after
 * "NAME  | ". */
static void print_logs(const char *prefix, const char *b, size_t n, bool tty)
{
	struct buf_line {
		char s[8192];
		size_t n;
	} line = {{0}, 0};
	size_t i = 0;
	while (i < n) {
		size_t len = n - i;
		const char *d = b + i;
		if (!tty) {
			if (n - i < 8)
				break;
			len = (size_t)(unsigned char)b[i + 4] << 24 |
			      (size_t)(unsigned char)b[i + 5] << 16 |
			      (size_t)(unsigned char)b[i + 6] << 8 |
			      (unsigned char)b[i + 7];
			d = b + i + 8;
			if (len > n - i - 8)
				len = n - i - 8;
			i += 8;
		}
		for (size_t k = 0; k < len; k++) {
			if (d[k] == '\n' || line.n == sizeof(line.s) - 1) {
				printf("%s | %.*s\n", prefix, (int)line.n,
				       line.s);
				line.n = 0;
				if (d[k] == '\n')
					continue;
			}
			line.s[line.n++] = d[k];
		}
		i += len;
	}
	if (line.n)
		printf("%s | %.*s\n", prefix, (int)line.n, line.s);
}

int cli__compose_logs(struct cli *cli, struct project *p, int argc, char **argv)
{
	const char *tail = NULL;
	struct cli_flag flags[] = {{"tail", 0, CLI_FLAG_STR, &tail}};
	int first = cli_flags("compose logs", flags, 1, argc, argv, true);
	if (first == -2) {
		printf("Usage:  shoal compose logs [--tail N] [SERVICE...]\n\n"
		       "View output from containers\n");
		return 0;
	}
	if (first < 0)
		return 1;
	if (tail && strcmp(tail, "all") &&
	    strspn(tail, "0123456789") != strlen(tail)) {
		fprintf(stderr, "invalid --tail %s: a number or all\n", tail);
		return 1;
	}
	json_t *all;
	size_t n, width = 0;
	const json_t **v = sorted(cli, p, &all, &n);
	if (!v)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (strlen(ctr_name(v[i])) > width)
			width = strlen(ctr_name(v[i]));
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		const char *svc =
			jsonx_str(jsonx_obj(v[i], "Labels"), S_LABEL, "");
		bool pick = first >= argc;
		for (int a = first; a < argc; a++)
			pick |= !strcmp(argv[a], svc);
		if (!pick)
			continue;
		char path[400], prefix[300];
		struct http_result r = {0};
		snprintf(path, sizeof(path),
			 "/containers/%s/logs?stdout=1&stderr=1&tail=%s",
			 jsonx_str(v[i], "Id", ""), tail ? tail : "all");
		if (cli_call(cli, "GET", path, NULL, 0, NULL, &r, 0) != 0) {
			rc = 1;
			continue;
		}
		const char *ct = http_result_header(&r, "Content-Type");
		snprintf(prefix, sizeof(prefix), "%-*s", (int)width,
			 ctr_name(v[i]));
		print_logs(prefix, r.body, r.body_len,
			   !ct || !strstr(ct, "multiplexed"));
		http_result_fini(&r);
	}
	free(v);
	json_decref(all);
	return rc;
}
