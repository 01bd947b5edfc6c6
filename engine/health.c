/*
 * Health checks, as Docker runs them (Docker Engine API, HealthConfig and
 * State.Health; moby daemon/health.go): while a container with a health
 * check runs, its probe is exec'd inside it every Interval; a probe that
 * exits 0 makes it "healthy" and resets FailingStreak, one that exits
 * otherwise or outlives Timeout adds one to FailingStreak, and Retries
 * failures in a row make it "unhealthy". Failures during StartPeriod do
 * not count while the container has never been healthy. Status is
 * "starting" from each start until the first verdict. The last 5 probes
 * are kept (Start, End, ExitCode, Output: stdout then stderr, at most
 * 4096 bytes; a probe past its timeout has ExitCode -1).
 *
 * The check is resolved at create (eng__health_config()): the spec's
 * Test, else the image's HEALTHCHECK, each zero duration taken from the
 * image, then Docker's defaults; Test ["NONE"] disables it. It is kept in
 * the container record as "Healthcheck" and read again at each start, so
 * a restart of shoald resumes it (status "starting" again).
 *
 * Life: eng__health_start() at every start and at restore of a running
 * container, eng__health_exited() at every exit (probes stop, the verdict
 * stays for inspect), eng__health_drop() at removal, eng__health_close()
 * with the engine. One probe at a time; its exec is started on the loop
 * (rt_exec_start returns once the command is exec'd: milliseconds), its
 * exit seen through the helper's pidfd (uv_poll), its timeout by the same
 * timer that paces the probes. A state's memory is freed in the close
 * callbacks of its two handles, never before.
 */
#define LOG_MODULE "engine"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "engine/internal.h"
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_INTERVAL_NS (30LL * NSEC_PER_SEC)
#define DEFAULT_TIMEOUT_NS (30LL * NSEC_PER_SEC)
#define DEFAULT_RETRIES 3
#define LOG_KEEP 5
#define OUTPUT_MAX 4096

struct eng__health {
	struct eng *e; /* NULL once the engine closed */
	char id[RT_ID_LEN + 1];
	char **argv; /* the probe */
	int64_t interval_ns, timeout_ns, start_period_ns;
	int retries;
	int64_t started_ns; /* monotonic, of the run being checked */
	const char *status; /* "starting", "healthy", "unhealthy" */
	int streak;
	json_t *log;
	bool running; /* the container runs: probes are due */
	struct rt_exec *ex;
	int64_t probe_start_ns; /* wall clock */
	uv_timer_t timer;
	uv_poll_t *poll; /* the running probe's; freed in its close cb */
	int open_handles;
};

static void probe(uv_timer_t *t);

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		shoal_free(v[i]);
	shoal_free(v);
}

/* ------------------------------------------------------------- config */

static json_t *test_json(const char *const *test)
{
	json_t *a = json_array();
	for (size_t i = 0; a && test && test[i]; i++)
		json_array_append_new(a, json_string(test[i]));
	return a;
}

static int64_t pick(int64_t spec, const json_t *img, const char *key,
		    int64_t def)
{
	if (spec > 0)
		return spec;
	if (jsonx_int(img, key, 0) > 0)
		return jsonx_int(img, key, 0);
	return def;
}

int eng__health_config(struct eng *e, const struct eng_spec *s,
		       const char *image_id, json_t **out)
{
	struct shoal_err err = {""};
	json_t *ij = NULL, *test;
	const json_t *ihc = NULL;
	*out = NULL;
	if (img_inspect_json(e->img, image_id, &ij, &err) == 0)
		ihc = jsonx_obj(jsonx_obj(ij, "Config"), "Healthcheck");
	if (s->health.test && s->health.test[0])
		test = test_json(s->health.test);
	else
		test = json_deep_copy(json_object_get(ihc, "Test"));
	const char *kind = json_string_value(json_array_get(test, 0));
	if (!kind || strcmp(kind, "NONE") == 0 || json_array_size(test) < 2 ||
	    (strcmp(kind, "CMD") && strcmp(kind, "CMD-SHELL"))) {
		json_decref(test);
		json_decref(ij);
		return 0; /* none, or disabled */
	}
	*out = json_pack(
		"{s:o, s:I, s:I, s:I, s:i}", "Test", test, "Interval",
		(json_int_t)pick(s->health.interval_ns, ihc, "Interval",
				 DEFAULT_INTERVAL_NS),
		"Timeout",
		(json_int_t)pick(s->health.timeout_ns, ihc, "Timeout",
				 DEFAULT_TIMEOUT_NS),
		"StartPeriod",
		(json_int_t)pick(s->health.start_period_ns, ihc, "StartPeriod",
				 0),
		"Retries",
		(int)pick(s->health.retries, ihc, "Retries", DEFAULT_RETRIES));
	json_decref(ij);
	return *out ? 0 : -ENOMEM;
}

/* The probe's argv from a record's Healthcheck; NULL when none. */
static char **probe_argv(const json_t *hc)
{
	const json_t *test = json_object_get(hc, "Test");
	const char *kind = json_string_value(json_array_get(test, 0));
	size_t n = json_array_size(test);
	char **v;
	if (!kind || n < 2)
		return NULL;
	if (strcmp(kind, "CMD-SHELL") == 0) {
		const char *cmd = json_string_value(json_array_get(test, 1));
		v = shoal_calloc(4, sizeof(char *));
		if (!v || !cmd)
			goto fail;
		v[0] = shoal_strdup("/bin/sh");
		v[1] = shoal_strdup("-c");
		v[2] = shoal_strdup(cmd);
		if (!v[0] || !v[1] || !v[2])
			goto fail;
		return v;
	}
	if (strcmp(kind, "CMD") != 0)
		return NULL;
	v = shoal_calloc(n, sizeof(char *));
	if (!v)
		return NULL;
	for (size_t i = 1; i < n; i++) {
		const char *a = json_string_value(json_array_get(test, i));
		v[i - 1] = a ? shoal_strdup(a) : NULL;
		if (!v[i - 1])
			goto fail;
	}
	return v;
fail:
	strv_free(v);
	return NULL;
}

/* -------------------------------------------------------------- state */

static void handle_closed(uv_handle_t *h)
{
	struct eng__health *hs = h->data;
	if ((uv_handle_t *)&hs->timer != h)
		shoal_free(h);
	if (--hs->open_handles > 0)
		return;
	strv_free(hs->argv);
	json_decref(hs->log);
	shoal_free(hs);
}

static void end_probe(struct eng__health *hs)
{
	if (hs->poll) {
		uv_close((uv_handle_t *)hs->poll, handle_closed);
		hs->poll = NULL;
	}
	if (hs->ex) {
		rt_exec_free(hs->ex); /* kills a probe still running */
		hs->ex = NULL;
	}
}

static void destroy(struct eng__health *hs)
{
	end_probe(hs);
	hs->e = NULL;
	uv_close((uv_handle_t *)&hs->timer, handle_closed);
}

static void set_status(struct eng__health *hs, const char *status)
{
	if (strcmp(hs->status, status) == 0)
		return;
	hs->status = status;
	log_info("container=%s health_status: %s", hs->id, status);
	if (strcmp(status, "starting") != 0)
		eng__emit(hs->e,
			  strcmp(status, "healthy") == 0
				  ? ENG_EVENT_HEALTH_HEALTHY
				  : ENG_EVENT_HEALTH_UNHEALTHY,
			  hs->id, -1, false, false, 0);
}

static void verdict(struct eng__health *hs, int code, const char *output)
{
	char start[48], end[48];
	time_format_rfc3339(hs->probe_start_ns, start, sizeof(start));
	time_format_rfc3339(time_real_ns(), end, sizeof(end));
	json_array_append_new(hs->log,
			      json_pack("{s:s, s:s, s:i, s:s}", "Start", start,
					"End", end, "ExitCode", code, "Output",
					output));
	while (json_array_size(hs->log) > LOG_KEEP)
		json_array_remove(hs->log, 0);
	if (code == 0) {
		hs->streak = 0;
		set_status(hs, "healthy");
		return;
	}
	bool in_start = time_mono_ns() - hs->started_ns < hs->start_period_ns;
	if (in_start && strcmp(hs->status, "starting") == 0)
		return; /* not counted (Docker's start period) */
	hs->streak++;
	if (hs->streak >= hs->retries)
		set_status(hs, "unhealthy");
}

static void arm(struct eng__health *hs, int64_t ns)
{
	uint64_t ms = (uint64_t)((ns + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
	uv_timer_start(&hs->timer, probe, ms ? ms : 1, 0);
}

/* Drain what @fd holds (non-blocking) into @buf. */
static size_t drain(int fd, char *buf, size_t used, size_t cap)
{
	while (fd >= 0 && used < cap) {
		ssize_t n = read(fd, buf + used, cap - used);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	return used;
}

static void probe_exited(uv_poll_t *p, int status, int events)
{
	struct eng__health *hs = p->data;
	char out[OUTPUT_MAX + 1];
	int code = -1;
	size_t n = 0;
	(void)status;
	(void)events;
	if (!hs->ex || !hs->e)
		return;
	if (rt_exec_wait(hs->ex, 0, &code) == -ETIMEDOUT)
		return;
	n = drain(hs->ex->stdout_fd, out, n, OUTPUT_MAX);
	n = drain(hs->ex->stderr_fd, out, n, OUTPUT_MAX);
	out[n] = '\0';
	end_probe(hs);
	verdict(hs, code, out);
	if (hs->running)
		arm(hs, hs->interval_ns);
}

static void nonblock(int fd)
{
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void probe(uv_timer_t *t)
{
	struct eng__health *hs = t->data;
	struct shoal_err err = {""};
	struct rt_exec_spec spec = {.argv = (const char *const *)hs->argv};
	char msg[96];
	if (!hs->e || !hs->running)
		return;
	if (hs->ex) {
		/* The timer fired while a probe runs: its timeout. */
		end_probe(hs);
		snprintf(msg, sizeof(msg),
			 "Health check exceeded timeout (%llds)",
			 (long long)(hs->timeout_ns / NSEC_PER_SEC));
		verdict(hs, -1, msg);
		arm(hs, hs->interval_ns);
		return;
	}
	hs->probe_start_ns = time_real_ns();
	int rc = rt_exec_start(hs->e->rt, hs->id, &spec, &hs->ex, &err);
	if (rc < 0) {
		hs->ex = NULL;
		verdict(hs, -1, err.msg[0] ? err.msg : shoal_strerror(rc));
		arm(hs, hs->interval_ns);
		return;
	}
	if (hs->ex->stdin_fd >= 0) {
		close(hs->ex->stdin_fd);
		hs->ex->stdin_fd = -1;
	}
	nonblock(hs->ex->stdout_fd);
	nonblock(hs->ex->stderr_fd);
	hs->poll = shoal_malloc(sizeof(*hs->poll));
	if (hs->poll &&
	    uv_poll_init(hs->e->loop, hs->poll, hs->ex->pidfd) == 0) {
		hs->poll->data = hs;
		hs->open_handles++;
		uv_poll_start(hs->poll, UV_READABLE, probe_exited);
	} else {
		shoal_free(hs->poll);
		hs->poll = NULL; /* the timeout ends it */
	}
	arm(hs, hs->timeout_ns);
}

void eng__health_start(struct eng *e, const char *id)
{
	json_t *r = NULL;
	struct eng__health *hs = hmap_get_str(&e->health, id);
	if (eng__record_load(e, id, &r) < 0)
		return;
	const json_t *hc = json_object_get(r, "Healthcheck");
	char **argv = json_is_object(hc) ? probe_argv(hc) : NULL;
	if (!argv) {
		json_decref(r);
		return;
	}
	if (!hs) {
		hs = shoal_calloc(1, sizeof(*hs));
		if (!hs || hmap_put_str(&e->health, id, hs, NULL) < 0) {
			shoal_free(hs);
			strv_free(argv);
			json_decref(r);
			return;
		}
		snprintf(hs->id, sizeof(hs->id), "%s", id);
		hs->e = e;
		uv_timer_init(e->loop, &hs->timer);
		hs->timer.data = hs;
		hs->open_handles = 1;
	}
	end_probe(hs);
	strv_free(hs->argv);
	hs->argv = argv;
	hs->interval_ns = jsonx_int(hc, "Interval", DEFAULT_INTERVAL_NS);
	hs->timeout_ns = jsonx_int(hc, "Timeout", DEFAULT_TIMEOUT_NS);
	hs->start_period_ns = jsonx_int(hc, "StartPeriod", 0);
	hs->retries = (int)jsonx_int(hc, "Retries", DEFAULT_RETRIES);
	if (hs->interval_ns <= 0)
		hs->interval_ns = DEFAULT_INTERVAL_NS;
	if (hs->timeout_ns <= 0)
		hs->timeout_ns = DEFAULT_TIMEOUT_NS;
	if (hs->retries <= 0)
		hs->retries = DEFAULT_RETRIES;
	json_decref(hs->log);
	hs->log = json_array();
	hs->status = "starting";
	hs->streak = 0;
	hs->started_ns = time_mono_ns();
	hs->running = true;
	arm(hs, hs->interval_ns);
	json_decref(r);
}

void eng__health_exited(struct eng *e, const char *id)
{
	struct eng__health *hs = hmap_get_str(&e->health, id);
	if (!hs)
		return;
	hs->running = false;
	uv_timer_stop(&hs->timer);
	end_probe(hs);
}

void eng__health_drop(struct eng *e, const char *id)
{
	struct eng__health *hs = hmap_del_str(&e->health, id);
	if (hs)
		destroy(hs);
}

void eng__health_close(struct eng *e)
{
	size_t pos = 0, klen;
	const void *key;
	void *val;
	while (hmap_next(&e->health, &pos, &key, &klen, &val))
		destroy(val);
	hmap_fini(&e->health);
}

/* ----------------------------------------------------------- queries */

const char *eng_health_status(struct eng *e, const char *id)
{
	struct eng__health *hs = hmap_get_str(&e->health, id);
	return hs ? hs->status : NULL;
}

json_t *eng_health_json(struct eng *e, const char *id)
{
	struct eng__health *hs = hmap_get_str(&e->health, id);
	if (!hs)
		return NULL;
	return json_pack("{s:s, s:i, s:O}", "Status", hs->status,
			 "FailingStreak", hs->streak, "Log", hs->log);
}
