/*
 * `shoal service logs [-f] [--tail N] [-t] [--since T] [--raw]
 * [--no-task-ids] [--no-trunc] [--details] SERVICE|TASK`, as the docker
 * CLI does it (docker/cli service/logs.go): GET /services/{id}/logs (or
 * /tasks/{id}/logs when no service has that name) with details=1; each
 * line of the multiplexed answer is "[TIMESTAMP ]DETAILS MESSAGE", the
 * details naming com.docker.swarm.node.id, service.id and task.id; the
 * line is printed as "NAME.SLOT.TASKID@NODE<padding>    | MESSAGE" on the
 * stream it came from (--raw: the message alone).
 */
#include "cli/ctr.h"
#include "cli/service.h"
#include "cli/swarm_call.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/jsonx.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CACHE 256
#define FRAME_MAX (1u << 20)

struct fmt_ctx {
	struct cli *cli;
	bool raw, no_task_ids, no_trunc, ts, details;
	int padding;
	json_t *svcs, *nodes;
	struct {
		char key[320];
		char out[400];
	} cache[CACHE];
	size_t ncache;
};

static int digits(long long v)
{
	return snprintf(NULL, 0, "%lld", v);
}

/* Docker's percent-decoding of a details value, in place. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '%' && isxdigit((unsigned char)s[1]) &&
		    isxdigit((unsigned char)s[2])) {
			char h[3] = {s[1], s[2], 0};
			*o++ = (char)strtol(h, NULL, 16);
			s += 2;
		} else {
			*o++ = *s == '+' ? ' ' : *s;
		}
	}
	*o = '\0';
}

static const char *name_of(const json_t *list, const char *id, const char *a,
			   const char *b)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *o = json_array_get(list, i);
		if (!strcmp(jsonx_str(o, "ID", ""), id))
			return jsonx_str(jsonx_obj(o, a), b, id);
	}
	return id;
}

/* "web.1.abcdef123456@node1" and its padding, cached per task. */
static const char *prefix(struct fmt_ctx *f, const char *node, const char *svc,
			  const char *task)
{
	char key[320];
	snprintf(key, sizeof(key), "%s/%s/%s", node, svc, task);
	for (size_t i = 0; i < f->ncache; i++)
		if (!strcmp(f->cache[i].key, key))
			return f->cache[i].out;
	char path[300], name[300];
	json_t *t = NULL;
	long long slot = 0;
	snprintf(path, sizeof(path), "/tasks/%s", task);
	if (cli__call(f->cli, "GET", path, NULL, &t) == 0)
		slot = (long long)jsonx_int(t, "Slot", 0);
	json_decref(t);
	const char *sname = name_of(f->svcs, svc, "Spec", "Name");
	if (f->no_task_ids)
		snprintf(name, sizeof(name), "%s.%lld", sname, slot);
	else
		snprintf(name, sizeof(name), "%s.%lld.%.*s", sname, slot,
			 f->no_trunc ? 64 : 12, task);
	int pad = f->padding - digits(slot);
	size_t k = f->ncache < CACHE ? f->ncache++ : 0;
	snprintf(f->cache[k].key, sizeof(f->cache[k].key), "%s", key);
	snprintf(f->cache[k].out, sizeof(f->cache[k].out), "%s@%s%*s", name,
		 name_of(f->nodes, node, "Description", "Hostname"),
		 pad > 0 ? pad : 0, "");
	return f->cache[k].out;
}

/* The details of a line into @node, @svc, @task and the other pairs. */
static void parse_details(char *details, char *node, char *svc, char *task,
			  char *rest, size_t cap)
{
	size_t rn = 0;
	char *save = NULL;
	node[0] = svc[0] = task[0] = rest[0] = '\0';
	for (char *kv = strtok_r(details, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			continue;
		*eq = '\0';
		unescape(eq + 1);
		if (!strcmp(kv, "com.docker.swarm.node.id"))
			snprintf(node, 100, "%s", eq + 1);
		else if (!strcmp(kv, "com.docker.swarm.service.id"))
			snprintf(svc, 100, "%s", eq + 1);
		else if (!strcmp(kv, "com.docker.swarm.task.id"))
			snprintf(task, 100, "%s", eq + 1);
		else if (rn < cap)
			rn += snprintf(rest + rn, cap - rn, "%s%s=%s",
				       rn ? "," : "", kv, eq + 1);
	}
}

static void emit(struct fmt_ctx *f, FILE *out, char *line, size_t len)
{
	char *ts = NULL, *msg = NULL, *sp;
	char node[100], svc[100], task[100], rest[1024];
	if (f->raw && !f->details) {
		fwrite(line, 1, len, out);
		return;
	}
	line[len] = '\0';
	if (f->ts && (sp = strchr(line, ' '))) {
		ts = line;
		*sp = '\0';
		line = sp + 1;
	}
	if ((!f->ts || ts) && (msg = strchr(line, ' ')))
		*msg++ = '\0';
	if (!msg) {
		fprintf(stderr, "invalid context in log message: %s\n", line);
		return;
	}
	parse_details(line, node, svc, task, rest, sizeof(rest));
	if (f->raw) {
		fprintf(out, "%s%s%s%s%s", ts ? ts : "", ts ? " " : "", rest,
			*rest ? " " : "", msg);
		return;
	}
	if (!*node || !*svc || !*task) {
		fprintf(stderr, "missing node, service or task id in the "
				"details of a log line\n");
		return;
	}
	fprintf(out, "%s%s%s    | %s%s%s", ts ? ts : "", ts ? " " : "",
		prefix(f, node, svc, task), f->details ? rest : "",
		f->details && *rest ? " " : "", msg);
}

static ssize_t read_some(struct cli_conn *c, void *buf, size_t n)
{
	if (c->nleft) {
		size_t k = n < c->nleft ? n : c->nleft;
		memcpy(buf, c->left, k);
		memmove(c->left, c->left + k, c->nleft - k);
		c->nleft -= k;
		return (ssize_t)k;
	}
	ssize_t r;
	do
		r = read(c->fd, buf, n);
	while (r < 0 && errno == EINTR);
	return r;
}

static bool read_full(struct cli_conn *c, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read_some(c, (char *)buf + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static int since_of(const char *s, char *out, size_t cap)
{
	int64_t ns;
	char *end;
	strtod(s, &end);
	if (*s && !*end) {
		snprintf(out, cap, "%s", s);
		return 0;
	}
	if (time_parse_duration(s, &ns) == 0) {
		snprintf(out, cap, "%lld",
			 (long long)((time_real_ns() - ns) / NSEC_PER_SEC));
		return 0;
	}
	ns = cli__parse_time(s);
	if (!ns)
		return -1;
	snprintf(out, cap, "%lld", (long long)(ns / NSEC_PER_SEC));
	return 0;
}

int cli__service_logs(struct cli *cli, int argc, char **argv)
{
	static struct fmt_ctx f;
	bool follow = false, no_resolve = false;
	const char *tail = NULL, *since = NULL;
	memset(&f, 0, sizeof(f));
	struct cli_flag flags[] = {
		{"follow", 'f', CLI_FLAG_BOOL, &follow},
		{"timestamps", 't', CLI_FLAG_BOOL, &f.ts},
		{"tail", 'n', CLI_FLAG_STR, &tail},
		{"since", 0, CLI_FLAG_STR, &since},
		{"raw", 0, CLI_FLAG_BOOL, &f.raw},
		{"no-task-ids", 0, CLI_FLAG_BOOL, &f.no_task_ids},
		{"no-trunc", 0, CLI_FLAG_BOOL, &f.no_trunc},
		{"no-resolve", 0, CLI_FLAG_BOOL, &no_resolve},
		{"details", 0, CLI_FLAG_BOOL, &f.details},
	};
	int i = cli_flags("service logs", flags, 9, argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal service logs [OPTIONS] SERVICE|TASK\n\n"
		       "Fetch the logs of a service or task\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (i + 1 != argc) {
		fprintf(stderr,
			"\"shoal service logs\" requires exactly 1 "
			"argument.\nSee 'shoal service logs --help'.\n");
		return 1;
	}
	if (no_resolve) {
		fprintf(stderr, "shoal service logs: --no-resolve is not "
				"supported\n");
		return 1;
	}
	f.cli = cli;
	char esc[300], path[1200], sv[64] = "", te[64] = "all", err[512];
	const char *kind = "services";
	json_t *obj = NULL;
	cli_escape(argv[i], esc, sizeof(esc));
	snprintf(path, sizeof(path), "/services/%s", esc);
	bool tty;
	if (cli__call_err(cli, "GET", path, NULL, &obj, err, sizeof(err)) ==
	    0) {
		const json_t *rep =
			jsonx_obj(jsonx_obj(jsonx_obj(obj, "Spec"), "Mode"),
				  "Replicated");
		f.padding = rep ? digits(jsonx_int(rep, "Replicas", 1)) : 1;
		tty = jsonx_bool(jsonx_obj(jsonx_obj(jsonx_obj(obj, "Spec"),
						     "TaskTemplate"),
					   "ContainerSpec"),
				 "TTY", false);
	} else {
		kind = "tasks";
		snprintf(path, sizeof(path), "/tasks/%s", esc);
		if (cli__call_err(cli, "GET", path, NULL, &obj, err,
				  sizeof(err)) < 0) {
			fprintf(stderr, "no such task or service: %s\n",
				argv[i]);
			return 1;
		}
		f.padding = digits(jsonx_int(obj, "Slot", 0));
		tty = jsonx_bool(
			jsonx_obj(jsonx_obj(obj, "Spec"), "ContainerSpec"),
			"TTY", false);
	}
	json_decref(obj);
	if (tty && !f.raw) {
		fprintf(stderr, "tty service logs only supported with --raw\n");
		return 1;
	}
	if (since && since_of(since, sv, sizeof(sv)) < 0) {
		fprintf(stderr,
			"invalid value for \"since\": %s is not a timestamp "
			"or a duration\n",
			since);
		return 1;
	}
	if (tail)
		cli_escape(tail, te, sizeof(te));
	if (!f.raw && (cli__call(cli, "GET", "/services", NULL, &f.svcs) < 0 ||
		       cli__call(cli, "GET", "/nodes", NULL, &f.nodes) < 0))
		return 1;
	snprintf(path, sizeof(path),
		 "/%s/%s/logs?stdout=1&stderr=1&details=%d&follow=%d&"
		 "timestamps=%d&tail=%s&since=%s",
		 kind, esc, f.details || !f.raw, follow, f.ts, te, sv);
	struct cli_conn conn;
	char *buf = NULL;
	unsigned char h[8];
	int rc = 0;
	if (cli_conn_open(cli, "GET", path, NULL, CLI_CONN_STREAM, &conn) < 0)
		goto out_json;
	if (conn.status >= 400) {
		fprintf(stderr, "Error response from daemon: %s\n", conn.msg);
		rc = 1;
		goto out;
	}
	if (tty) {
		cli_relay(&conn, true, false, NULL, NULL);
		goto out;
	}
	buf = shoal_malloc(FRAME_MAX + 1);
	while (buf && read_full(&conn, h, 8)) {
		size_t n = (size_t)h[4] << 24 | (size_t)h[5] << 16 |
			   (size_t)h[6] << 8 | h[7];
		if (n > FRAME_MAX || !read_full(&conn, buf, n))
			break;
		emit(&f, h[0] == 2 ? stderr : stdout, buf, n);
		fflush(h[0] == 2 ? stderr : stdout);
	}
	shoal_free(buf);
out:
	cli_conn_close(&conn);
out_json:
	json_decref(f.svcs);
	json_decref(f.nodes);
	return rc;
}
