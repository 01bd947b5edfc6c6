/*
 * The converge progress of `service create/update/scale/rollback` without
 * -d, as the docker CLI renders it (docker/cli service/progress and
 * moby's jsonmessage): every 200 ms the service and its up-to-date tasks
 * are read; "overall progress: N out of M tasks" and one line per slot
 * ("1/3: running   [=====>   ]"; the bar only on terminals wider than 110
 * columns, as jsonmessage draws it) are updated in place on a terminal
 * (ANSI cursor moves) and printed as new lines otherwise. Once every slot
 * runs, "verify: Waiting N seconds to verify that tasks are stable..."
 * counts down UpdateConfig.Monitor (5 s by default); a task failing
 * meanwhile prints "verify: Detected task failure" and the wait starts
 * again; then "verify: Service ID converged". A paused update or
 * rollback ends with its message and exit status 1. Jobs end at "job
 * complete".
 */
#include "cli/ctr.h"
#include "cli/service.h"
#include "cli/swarm_call.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_BARS 20
#define LONGEST_STATE 9 /* "preparing", "allocated" */
#define MAX_IDS 64

struct pw {
	bool tty;
	bool quiet;
	unsigned cols;
	char ids[MAX_IDS][80];
	size_t nids;
};

static const char *const states[] = {
	"",	    "new",	 "allocated", "pending",  "assigned",
	"accepted", "preparing", "ready",     "starting", "running",
	"complete", "shutdown",	 "failed",    "rejected"};

static int num(const char *s)
{
	for (size_t i = 1; s && i < sizeof(states) / sizeof(states[0]); i++)
		if (!strcmp(states[i], s))
			return (int)i;
	return 0;
}

static bool terminal(const char *s)
{
	return num(s) > 9;
}

/* One progress message: @id's line shows @action and, when @total, a bar. */
static void put(struct pw *w, const char *id, const char *action, int64_t cur,
		int64_t total)
{
	if (w->quiet)
		return;
	if (!w->tty) {
		printf("%s: %s\n", id, action);
		fflush(stdout);
		return;
	}
	size_t line = w->nids;
	for (size_t i = 0; i < w->nids; i++)
		if (!strcmp(w->ids[i], id))
			line = i;
	if (line == w->nids && w->nids < MAX_IDS) {
		snprintf(w->ids[w->nids++], sizeof(w->ids[0]), "%s", id);
		printf("\n");
	}
	size_t diff = w->nids - line;
	printf("\x1b[%zuA\x1b[2K\r%s: %s ", diff, id, action);
	if (total > 0 && w->cols > 110) {
		int pct = (int)((double)cur / (double)total * 100) / 2;
		if (pct > 50)
			pct = 50;
		if (pct < 0)
			pct = 0;
		printf("[%.*s>%*s] ", pct,
		       "=================================================="
		       "========",
		       50 - pct, "");
	}
	printf("\r\x1b[%zuB", diff);
	fflush(stdout);
}

static void message(struct pw *w, const char *text)
{
	if (w->quiet)
		return;
	w->nids = 0; /* jsonmessage forgets the lines before a message */
	printf("%s\n", text);
	fflush(stdout);
}

static void overall(struct pw *w, long run, long want, bool rollback)
{
	char a[96];
	snprintf(a, sizeof(a),
		 rollback ? "rolling back update: %ld out of %ld tasks"
			  : "%ld out of %ld tasks",
		 run, want);
	put(w, "overall progress", a, 0, 0);
}

static void task_line(struct pw *w, const char *id, const json_t *t,
		      int total_steps)
{
	const json_t *st = jsonx_obj(t, "Status");
	const char *err = jsonx_str(st, "Err", "");
	const char *state = jsonx_str(st, "State", "");
	char a[96];
	if (*err) {
		char cut[80];
		snprintf(cut, sizeof(cut), "%s", err);
		for (char *p = cut; *p; p++)
			if (*p == '\n')
				*p = ' ';
		if (strlen(err) > 75)
			snprintf(cut + 74, sizeof(cut) - 74, "…");
		put(w, id, cut, 0, 0);
		return;
	}
	snprintf(a, sizeof(a), "%-*s", LONGEST_STATE, state);
	put(w, id, a, num(state), total_steps);
}

/* The tasks of @svc made from its current spec. */
static json_t *current_tasks(struct cli *cli, const json_t *svc)
{
	static bool no_filter; /* the daemon refused it once: not again */
	char f[300], esc[600], path[700], err[256];
	json_t *tasks = NULL;
	snprintf(f, sizeof(f),
		 "{\"service\":{\"%s\":true},\"_up-to-date\":"
		 "{\"true\":true}}",
		 jsonx_str(svc, "ID", ""));
	cli_escape(f, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/tasks?filters=%s", esc);
	if (!no_filter && cli__call_err(cli, "GET", path, NULL, &tasks, err,
					sizeof(err)) == 0)
		return tasks;
	no_filter = true;
	/* A daemon without the _up-to-date filter: compare the specs. */
	snprintf(f, sizeof(f), "{\"service\":{\"%s\":true}}",
		 jsonx_str(svc, "ID", ""));
	cli_escape(f, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/tasks?filters=%s", esc);
	if (cli__call(cli, "GET", path, NULL, &tasks) < 0)
		return NULL;
	const json_t *tt = jsonx_obj(jsonx_obj(svc, "Spec"), "TaskTemplate");
	json_t *out = json_array();
	for (size_t i = 0; i < json_array_size(tasks); i++) {
		json_t *t = json_array_get(tasks, i);
		if (json_equal(jsonx_obj(t, "Spec"), (json_t *)tt))
			json_array_append(out, t);
	}
	json_decref(tasks);
	return out;
}

static bool node_up(const json_t *nodes, const char *id)
{
	if (!*id)
		return true;
	for (size_t i = 0; i < json_array_size(nodes); i++) {
		const json_t *n = json_array_get(nodes, i);
		if (!strcmp(jsonx_str(n, "ID", ""), id))
			return strcmp(jsonx_str(jsonx_obj(n, "Status"), "State",
						""),
				      "down") != 0;
	}
	return false;
}

/* Of the tasks sharing a key (slot or node), the lowest desired state,
 * then the lowest observed state, as docker picks. */
static bool better(const json_t *a, const json_t *b)
{
	int da = num(jsonx_str(a, "DesiredState", ""));
	int db = num(jsonx_str(b, "DesiredState", ""));
	if (da != db)
		return da < db;
	return num(jsonx_str(jsonx_obj(a, "Status"), "State", "")) <
	       num(jsonx_str(jsonx_obj(b, "Status"), "State", ""));
}

struct conv {
	struct pw w;
	bool init, done;
	long slots[MAX_BARS + 1]; /* slot -> bar, in order of appearance */
	size_t nslots;
};

/* One pass: true when converged. */
static bool replicated(struct conv *c, const json_t *svc, const json_t *tasks,
		       const json_t *nodes, bool rollback)
{
	const json_t *mode = jsonx_obj(jsonx_obj(svc, "Spec"), "Mode");
	bool global = json_object_get(mode, "Global") != NULL;
	long want = global ? 0
			   : (long)jsonx_int(jsonx_obj(mode, "Replicated"),
					     "Replicas", 0);
	size_t n = json_array_size(tasks);
	const json_t **pick = shoal_calloc(n ? n : 1, sizeof(*pick));
	size_t np = 0;
	for (size_t i = 0; pick && i < n; i++) {
		const json_t *t = json_array_get(tasks, i);
		if (!num(jsonx_str(t, "DesiredState", "")) ||
		    !num(jsonx_str(jsonx_obj(t, "Status"), "State", "")))
			continue;
		if (!node_up(nodes, jsonx_str(t, "NodeID", "")))
			continue;
		size_t k = 0;
		for (; k < np; k++) {
			bool same = global ? !strcmp(jsonx_str(pick[k],
							       "NodeID", ""),
						     jsonx_str(t, "NodeID", ""))
					   : jsonx_int(pick[k], "Slot", 0) ==
						     jsonx_int(t, "Slot", 0);
			if (same)
				break;
		}
		if (k == np)
			pick[np++] = t;
		else if (better(t, pick[k]))
			pick[k] = t;
	}
	if (global)
		want = (long)np;
	if (!c->init) {
		if (global && want == 0) {
			put(&c->w, "overall progress", "waiting for new tasks",
			    0, 0);
			shoal_free(pick);
			return false;
		}
		overall(&c->w, 0, want, rollback);
		for (long i = 1; !global && want <= MAX_BARS && i <= want;
		     i++) {
			char id[48];
			snprintf(id, sizeof(id), "%ld/%ld", i, want);
			put(&c->w, id, " ", 0, 0);
		}
		c->init = true;
	}
	if (c->done)
		for (size_t k = 0; k < np; k++)
			if (strcmp(jsonx_str(jsonx_obj(pick[k], "Status"),
					     "State", ""),
				   "running"))
				c->done = false;
	long run = 0;
	for (size_t k = 0; k < np; k++) {
		const json_t *t = pick[k];
		const char *ds = jsonx_str(t, "DesiredState", "");
		const char *st = jsonx_str(jsonx_obj(t, "Status"), "State", "");
		if (!terminal(ds) && !strcmp(st, "running"))
			run++;
		if (c->done || want > MAX_BARS)
			continue;
		char id[80];
		if (global) {
			snprintf(id, sizeof(id), "%.12s",
				 jsonx_str(t, "NodeID", ""));
		} else {
			long slot = (long)jsonx_int(t, "Slot", 0), bar = 0;
			for (size_t s = 0; s < c->nslots; s++)
				if (c->slots[s] == slot)
					bar = (long)s + 1;
			if (!bar && c->nslots < MAX_BARS) {
				c->slots[c->nslots++] = slot;
				bar = (long)c->nslots;
			}
			if (!bar || bar > want)
				continue;
			snprintf(id, sizeof(id), "%ld/%ld", bar, want);
		}
		if (*jsonx_str(jsonx_obj(t, "Status"), "Err", "") ||
		    (!terminal(ds) && !terminal(st)))
			task_line(&c->w, id, t, 9);
	}
	if (!c->done) {
		overall(&c->w, run, want, rollback);
		if (run == want)
			c->done = true;
	}
	shoal_free(pick);
	return run == want;
}

/* Jobs: "job progress: N out of M complete" until every task completed. */
static bool job(struct conv *c, const json_t *svc, const json_t *tasks)
{
	const json_t *mode = jsonx_obj(jsonx_obj(svc, "Spec"), "Mode");
	const json_t *rj = jsonx_obj(mode, "ReplicatedJob");
	long total = rj ? (long)jsonx_int(rj, "TotalCompletions", 1)
			: (long)json_array_size(tasks);
	long conc = rj ? (long)jsonx_int(rj, "MaxConcurrent", 1) : total;
	long done = 0, active = 0;
	char a[96];
	for (size_t i = 0; i < json_array_size(tasks); i++) {
		const char *st =
			jsonx_str(jsonx_obj(json_array_get(tasks, i), "Status"),
				  "State", "");
		if (!strcmp(st, "complete"))
			done++;
		else if (num(st) && num(st) < 10)
			active++;
	}
	if (!rj && !c->init && total == 0) {
		put(&c->w, "job progress", "waiting for tasks", 0, 0);
		return false;
	}
	int digits = snprintf(NULL, 0, "%ld", total);
	snprintf(a, sizeof(a), "%*ld out of %ld complete", digits, done, total);
	put(&c->w, "job progress", a, done, total);
	if (rj) {
		long desired = total - done < conc ? total - done : conc;
		int ad = snprintf(NULL, 0, "%ld", conc);
		snprintf(a, sizeof(a), "%*ld out of %*ld tasks", ad, active, ad,
			 desired);
		put(&c->w, "active tasks", a, 0, 0);
	}
	c->init = true;
	return total > 0 && done >= total;
}

int cli__wait_converged(struct cli *cli, const char *id, const char *label,
			bool quiet)
{
	struct conv c;
	unsigned rows = 0;
	int64_t converged_at = 0, monitor = 5 * NSEC_PER_SEC;
	bool rollback = false, converged = false;
	char path[400], msg[600];
	memset(&c, 0, sizeof(c));
	c.w.quiet = quiet;
	/* A terminal redraws in place; its width decides the bars. */
	c.w.tty = isatty(STDOUT_FILENO);
	if (c.w.tty && !cli_term_size(&rows, &c.w.cols)) {
		struct winsize ws;
		c.w.cols = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0
				   ? ws.ws_col
				   : 80;
	}
	/* With the defaults filled in, the template compares equal to the
	 * specs of the tasks made from it (current_tasks()). */
	snprintf(path, sizeof(path), "/services/%s?insertDefaults=true", id);
	for (;;) {
		json_t *svc = NULL, *tasks = NULL, *nodes = NULL;
		if (cli__call(cli, "GET", path, NULL, &svc) < 0)
			return 1;
		const json_t *spec = jsonx_obj(svc, "Spec");
		const json_t *us = jsonx_obj(svc, "UpdateStatus");
		const char *ust = jsonx_str(us, "State", "");
		const json_t *mode = jsonx_obj(spec, "Mode");
		bool is_job = json_object_get(mode, "ReplicatedJob") ||
			      json_object_get(mode, "GlobalJob");
		if (jsonx_int(jsonx_obj(spec, "UpdateConfig"), "Monitor", 0))
			monitor = jsonx_int(jsonx_obj(spec, "UpdateConfig"),
					    "Monitor", 0);
		if (!strcmp(ust, "updating")) {
			rollback = false;
		} else if (!strcmp(ust, "completed") && !converged && c.init) {
			json_decref(svc);
			return 0;
		} else if (!strcmp(ust, "paused") ||
			   !strcmp(ust, "rollback_paused")) {
			fprintf(stderr, "service %s paused: %s\n",
				!strcmp(ust, "paused") ? "update" : "rollback",
				jsonx_str(us, "Message", ""));
			json_decref(svc);
			return 1;
		} else if (!strcmp(ust, "rollback_started")) {
			if (!rollback && *jsonx_str(us, "Message", ""))
				put(&c.w, "rollback",
				    jsonx_str(us, "Message", ""), 0, 0);
			rollback = true;
		} else if (!strcmp(ust, "rollback_completed")) {
			rollback = true;
		}
		if (converged && time_mono_ns() - converged_at >= monitor) {
			snprintf(msg, sizeof(msg), "Service %s converged",
				 label);
			put(&c.w, "verify", msg, 0, 0);
			if (!strcmp(ust, "rollback_completed") && !c.w.quiet) {
				printf("rollback: %s\n",
				       jsonx_str(us, "Message", ""));
				fflush(stdout);
			}
			json_decref(svc);
			return 0;
		}
		tasks = current_tasks(cli, svc);
		if (!tasks ||
		    cli__call(cli, "GET", "/nodes", NULL, &nodes) < 0) {
			json_decref(tasks);
			json_decref(svc);
			return 1;
		}
		converged =
			is_job ? job(&c, svc, tasks)
			       : replicated(&c, svc, tasks, nodes, rollback);
		json_decref(tasks);
		json_decref(nodes);
		json_decref(svc);
		if (converged && is_job) {
			message(&c.w, "job complete");
			return 0;
		}
		if (converged) {
			if (!converged_at)
				converged_at = time_mono_ns();
			int64_t wait =
				monitor - (time_mono_ns() - converged_at);
			if (wait >= 0) {
				snprintf(msg, sizeof(msg),
					 "Waiting %lld seconds to verify that "
					 "tasks are stable...",
					 (long long)(wait / NSEC_PER_SEC + 1));
				put(&c.w, "verify", msg, 0, 0);
			}
		} else {
			if (converged_at)
				put(&c.w, "verify", "Detected task failure", 0,
				    0);
			converged_at = 0;
		}
		struct timespec ts = {0, 200 * 1000000L};
		nanosleep(&ts, NULL);
	}
}
