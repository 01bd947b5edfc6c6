/*
 * The task executor (exec.h).
 *
 * One struct run per task of the set, in a list (a node runs tens to a
 * few hundred tasks: linear scans cost nothing next to a container start).
 * A run is driven by reconcile(), called after every change of its
 * assignment or of its container; reconcile() is idempotent and only
 * moves a task forward (Docker's TaskState order).
 *
 * Asynchronous flows: a stop (eng_stop) holds its run until its callback
 * has run (run->stopping); a run whose task left the set meanwhile is
 * removed there. The disk write of the set runs on the libuv thread pool;
 * one at a time, a change during a write asks for another.
 *
 * Invariants: a run has at most one stop in flight; a container id in a
 * run belongs to that task (name and task label checked at adoption); the
 * executor is freed only once no stop and no write is in flight.
 */
#define LOG_MODULE "agent"
#include "worker/exec.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/fd.h"
#include "common/jsonx.h"
#include "common/list.h"
#include "common/log.h"
#include "common/path.h"
#include "engine/engine.h"
#include "worker/secrets.h"
#include "worker/task_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_MAX (64u << 20)
#define TASK_LABEL "com.docker.swarm.task.id"

struct run {
	struct list_node node;
	struct wexec *x;
	struct wtask *t;
	enum wtask_state state;
	char msg[64];
	char err[320];
	char cid[RT_ID_LEN + 1];
	int pid;
	int exit_code;
	int64_t ts_ns;
	bool stopping;	/* an eng_stop in flight */
	bool gone;	/* left the set: remove once stopped */
	bool unhealthy; /* failed by its health check; being stopped */
	bool left;	/* asked to leave this node's VIP maps (once) */
	bool in_leave;	/* inside x->leave(): a done is taken in line */
	bool left_now;	/* x->leave() was done in line */
	bool dirty;	/* a report is due */
	char **binds;	/* its secrets' and configs' bind mounts, or NULL */
};

struct wexec {
	uv_loop_t *loop;
	struct eng *eng;
	char dir[4096];
	char node_id[WTASK_ID_MAX + 1];
	char hostname[256], os[32], arch[32];
	struct wtask_node node;
	void (*report)(void *arg, const struct wexec_report *r, size_t n);
	void (*leave)(void *arg, const char *task_id, void (*done)(void *),
		      void *done_arg);
	void *arg;
	struct list_node runs;
	struct eng_sub *sub;
	struct wsecrets *secrets; /* the set's secret and config items */
	struct wfetch *fetch;	  /* images from other nodes, or NULL */
	uv_timer_t flush;
	bool flush_open;
	bool sweep_due; /* remove stray task containers at the next set */
	int inflight;	/* stops and writes */
	bool writing, write_again;
	bool closing;
};

static void reconcile(struct run *r);
static void save(struct wexec *x);

/* Its container runs: "starting" (health check pending) or "running". */
static bool up(const struct run *r)
{
	return r->state == WT_STARTING || r->state == WT_RUNNING;
}

/* -------------------------------------------------------------- reports */

static json_t *status_json(const struct run *r)
{
	char ts[48];
	time_format_rfc3339(r->ts_ns, ts, sizeof(ts));
	json_t *cs = json_pack("{s:s, s:i, s:i}", "ContainerID", r->cid, "PID",
			       r->pid, "ExitCode",
			       r->exit_code < 0 ? 0 : r->exit_code);
	json_t *s = json_pack("{s:s, s:s, s:s, s:o, s:{}}", "Timestamp", ts,
			      "State", wtask_state_name(r->state), "Message",
			      r->msg, "ContainerStatus", cs, "PortStatus");
	if (s && r->err[0])
		json_object_set_new(s, "Err", json_string(r->err));
	return s;
}

static void maybe_free(struct wexec *x)
{
	if (!x->closing || x->inflight || x->flush_open)
		return;
	wsecrets_free(x->secrets);
	shoal_free(x);
}

static void flush(uv_timer_t *tm)
{
	struct wexec *x = tm->data;
	struct list_node *p;
	size_t n = 0, k = 0;
	list_for_each(p, &x->runs) n += list_entry(p, struct run, node)->dirty;
	if (n == 0)
		return;
	struct wexec_report *rs = shoal_calloc(n, sizeof(*rs));
	char **texts = shoal_calloc(n, sizeof(char *));
	if (!rs || !texts) {
		shoal_free(rs);
		shoal_free(texts);
		log_warn("task reports delayed: out of memory");
		uv_timer_start(&x->flush, flush, 100, 0);
		return;
	}
	list_for_each(p, &x->runs)
	{
		struct run *r = list_entry(p, struct run, node);
		if (!r->dirty)
			continue;
		json_t *s = status_json(r);
		texts[k] = s ? jsonx_dump(s, NULL) : NULL;
		json_decref(s);
		if (!texts[k])
			continue;
		r->dirty = false;
		rs[k].task_id = r->t->id;
		rs[k].status_json = texts[k];
		k++;
	}
	if (k && x->report)
		x->report(x->arg, rs, k);
	for (size_t i = 0; i < k; i++)
		shoal_free(texts[i]);
	shoal_free(texts);
	shoal_free(rs);
}

static void dirty(struct run *r)
{
	r->dirty = true;
	if (r->x->flush_open && !r->x->closing)
		uv_timer_start(&r->x->flush, flush, 0, 0);
}

static void set_state(struct run *r, enum wtask_state s, const char *msg,
		      const char *err)
{
	if (s < r->state)
		return;
	r->state = s;
	r->ts_ns = time_real_ns();
	if (wtask_state_final(s))
		wsecrets_release(r->x->secrets, r->t->id);
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
	log_info("task=%s %s: %s%s%s", r->t->id, wtask_state_name(s), msg,
		 err ? ": " : "", err ? err : "");
	dirty(r);
	save(r->x);
}

/* ---------------------------------------------------------------- store */

struct write_job {
	uv_work_t req;
	struct wexec *x;
	char *data;
	size_t len;
	char path[4200];
	int rc;
};

static void write_work(uv_work_t *req)
{
	struct write_job *j = req->data;
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		j->rc = -errno;
		return;
	}
	j->rc = fd_write_all(fd, j->data, j->len);
	if (j->rc == 0 && fsync(fd) < 0)
		j->rc = -errno;
	close(fd);
	if (j->rc == 0 && rename(tmp, j->path) < 0)
		j->rc = -errno;
	if (j->rc < 0)
		unlink(tmp);
}

static void write_done(uv_work_t *req, int status)
{
	struct write_job *j = req->data;
	struct wexec *x = j->x;
	(void)status;
	if (j->rc < 0)
		log_error("cannot save the task set in %s: %s", j->path,
			  shoal_strerror(j->rc));
	shoal_free(j->data);
	shoal_free(j);
	x->writing = false;
	x->inflight--;
	if (x->write_again && !x->closing) {
		x->write_again = false;
		save(x);
	}
	maybe_free(x);
}

static json_t *store_json(struct wexec *x)
{
	json_t *a = json_array();
	struct list_node *p;
	list_for_each(p, &x->runs)
	{
		struct run *r = list_entry(p, struct run, node);
		if (r->gone)
			continue;
		json_array_append_new(a, json_pack("{s:O, s:o}", "Task",
						   r->t->json, "Status",
						   status_json(r)));
	}
	return a;
}

static void save(struct wexec *x)
{
	if (x->closing)
		return;
	if (x->writing) {
		x->write_again = true;
		return;
	}
	struct write_job *j = shoal_calloc(1, sizeof(*j));
	json_t *a = store_json(x);
	if (j && a)
		j->data = jsonx_dump(a, &j->len);
	json_decref(a);
	if (!j || !j->data) {
		shoal_free(j);
		log_error("cannot save the task set: out of memory");
		return;
	}
	j->x = x;
	j->req.data = j;
	snprintf(j->path, sizeof(j->path), "%s/tasks.json", x->dir);
	if (uv_queue_work(x->loop, &j->req, write_work, write_done) < 0) {
		shoal_free(j->data);
		shoal_free(j);
		return;
	}
	x->writing = true;
	x->inflight++;
}

int wexec_store_decode(const void *data, size_t len, json_t **out,
		       struct shoal_err *err)
{
	json_t *a;
	char jerr[200];
	size_t i;
	json_t *e;
	int rc = jsonx_parse(data, len, &a, jerr, sizeof(jerr));
	if (rc < 0) {
		snprintf(err->msg, sizeof(err->msg), "%s", jerr);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	if (!json_is_array(a)) {
		snprintf(err->msg, sizeof(err->msg), "expected a JSON array");
		json_decref(a);
		return -EINVAL;
	}
	json_array_foreach(a, i, e)
	{
		if (!json_is_object(jsonx_obj(e, "Task")) ||
		    !json_is_object(jsonx_obj(e, "Status"))) {
			snprintf(err->msg, sizeof(err->msg),
				 "entry %zu has no Task and Status objects", i);
			json_decref(a);
			return -EINVAL;
		}
	}
	*out = a;
	return 0;
}

/* ------------------------------------------------------------ the runs */

static struct run *find(struct wexec *x, const char *task_id)
{
	struct list_node *p;
	list_for_each(p, &x->runs)
	{
		struct run *r = list_entry(p, struct run, node);
		if (strcmp(r->t->id, task_id) == 0)
			return r;
	}
	return NULL;
}

static struct run *find_cid(struct wexec *x, const char *cid)
{
	struct list_node *p;
	list_for_each(p, &x->runs)
	{
		struct run *r = list_entry(p, struct run, node);
		if (r->cid[0] && strcmp(r->cid, cid) == 0)
			return r;
	}
	return NULL;
}

static void run_free(struct run *r)
{
	wsecrets_release(r->x->secrets, r->t->id);
	list_remove(&r->node);
	wsecrets_binds_free(r->binds);
	wtask_free(r->t);
	shoal_free(r);
}

static void remove_container(struct run *r)
{
	if (!r->cid[0])
		return;
	int rc = eng_remove(r->x->eng, r->cid, true, false);
	if (rc < 0 && rc != SHOAL_ENOTFOUND)
		log_warn("task=%s cannot remove container %s: %s", r->t->id,
			 r->cid, shoal_strerror(rc));
	r->cid[0] = '\0';
}

/* A stop (or the leave before it) of @r is over: false, or true when
 * wexec_close() unlinked it meanwhile and left it to us (then freed). */
static bool stop_settled(struct run *r)
{
	struct wexec *x = r->x;
	r->stopping = false;
	x->inflight--;
	if (!x->closing)
		return false;
	wsecrets_binds_free(r->binds);
	wtask_free(r->t);
	shoal_free(r);
	maybe_free(x);
	return true;
}

static void stopped(void *arg, int rc, const char *msg)
{
	struct run *r = arg;
	struct wexec *x = r->x;
	(void)msg;
	if (stop_settled(r))
		return;
	if (rc < 0 && rc != SHOAL_ENOTFOUND)
		log_warn("task=%s stop of container %s: %s", r->t->id, r->cid,
			 shoal_strerror(rc));
	struct eng_info info;
	if (r->cid[0] && eng_inspect(x->eng, r->cid, &info) == 0) {
		r->exit_code = info.rt.exit_code;
		eng_info_fini(&info);
	}
	r->pid = 0;
	/* A task that left the set is forgotten without a report; an
	 * unhealthy one was reported failed when its check said so. */
	if (!r->gone && !wtask_state_final(r->state))
		set_state(r, WT_SHUTDOWN, "shutdown", NULL);
	reconcile(r);
	maybe_free(x);
}

static void stop_now(struct run *r);

/* This node's VIP maps no longer send it new connections: stop it. */
static void left_maps(void *arg)
{
	struct run *r = arg;
	if (r->in_leave) {
		r->left_now = true; /* stop_container() goes on in line */
		return;
	}
	if (stop_settled(r))
		return;
	stop_now(r);
	if (!r->stopping)
		reconcile(r);
}

/* Its container stopped; a task that still runs leaves this node's VIP
 * maps first (x->leave), so that no new connection reaches a container
 * that got its stop signal (docs/overlay.md, "Health, stopping and
 * rolling updates"). A leave done at once goes on in line, the caller
 * seeing the run as after a plain stop. */
static void stop_container(struct run *r)
{
	struct wexec *x = r->x;
	if (r->stopping || !r->cid[0])
		return;
	if (x->leave && r->pid > 0 && !r->left) {
		r->left = true;
		r->stopping = true;
		x->inflight++;
		r->in_leave = true;
		r->left_now = false;
		x->leave(x->arg, r->t->id, left_maps, r);
		r->in_leave = false;
		if (!r->left_now)
			return; /* left_maps() stops it later */
		r->stopping = false;
		x->inflight--;
	}
	stop_now(r);
}

static void stop_now(struct run *r)
{
	struct eng_stop_opts o = {0};
	if (r->stopping || !r->cid[0])
		return;
	if (r->t->stop_grace_set) {
		o.timeout_set = true;
		o.timeout_s = r->t->stop_grace_ns / 1000000000LL;
	}
	int rc = eng_stop(r->x->eng, r->cid, &o, stopped, r);
	if (rc == 0) {
		r->stopping = true;
		r->x->inflight++;
		return;
	}
	/* Not running (-EALREADY) or gone: nothing to wait for. */
	r->pid = 0;
	if (r->state <= WT_RUNNING)
		set_state(r, WT_SHUTDOWN, "shutdown", NULL);
}

/* The task's secrets and configs written (worker/secrets.c) and their
 * binds added to @spec's volumes: spec->volumes becomes an array of ours
 * (shoal_free it; the strings are the task's and the binds'). The binds'
 * strings live until the task's next start or its end. */
static int with_secrets(struct run *r, struct eng_spec *spec,
			struct shoal_err *err)
{
	char **binds = NULL;
	size_t n = 0, k = 0;
	int rc =
		wsecrets_prepare(r->x->secrets, r->t, &r->x->node, &binds, err);
	if (rc < 0)
		return rc;
	for (const char *const *v = spec->volumes; v && *v; v++)
		n++;
	for (char **b = binds; b && *b; b++)
		k++;
	const char **all = shoal_calloc(n + k + 1, sizeof(*all));
	if (!all) {
		wsecrets_binds_free(binds);
		wsecrets_release(r->x->secrets, r->t->id);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		all[i] = spec->volumes[i];
	for (size_t i = 0; i < k; i++)
		all[n + i] = binds[i];
	wsecrets_binds_free(r->binds);
	r->binds = binds;
	spec->volumes = all;
	return 0;
}

/* The named volumes that carry VolumeOptions.Labels, made with them
 * before the container (which would make them bare); one that exists
 * keeps its labels, as in Docker. */
static int volumes_with_labels(struct run *r, struct shoal_err *err)
{
	char *const *vl = r->t->volume_labels;
	size_t n = r->t->n_volume_labels;
	const char **labels = n ? shoal_calloc(n + 1, sizeof(*labels)) : NULL;
	if (n && !labels)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t len = strcspn(vl[i], "=");
		bool first = true;
		for (size_t j = 0; j < i; j++)
			if (!strncmp(vl[j], vl[i], len + 1))
				first = false;
		if (!first)
			continue; /* made with the earlier entry's group */
		size_t k = 0;
		for (size_t j = i; j < n; j++)
			if (!strncmp(vl[j], vl[i], len + 1))
				labels[k++] = vl[j] + len + 1;
		labels[k] = NULL;
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)len, vl[i]);
		struct eng_volume v;
		rc = eng_volume_create(r->x->eng, name, labels, &v, err);
		if (rc == 0)
			eng_volume_fini(&v);
	}
	shoal_free(labels);
	return rc;
}

/* The image of @r's ImageHolders item, or "" (borrowed). */
static const char *holders_image(const struct run *r)
{
	return jsonx_str(jsonx_obj(r->t->json, "ImageHolders"), "ID", "");
}

/* When this node lacks the task's image and its assignment names nodes
 * that hold it, the image is fetched first (worker/task_fetch.h); when
 * no node holds it and its name names a registry, it is pulled: true
 * when the task waits for it ("preparing") or was rejected. An image
 * here by id but not by the spec's name gets the name (no fetch); the
 * create then answers "No such image" itself if it still does not
 * resolve (a name with a digest, say). */
static bool wait_for_image(struct run *r)
{
	struct wexec *x = r->x;
	const json_t *ih = jsonx_obj(r->t->json, "ImageHolders");
	if (!x->fetch || wfetch_has(x->fetch, r->t->image))
		return false;
	char id[80], msg[64];
	struct shoal_err err = {""};
	int rc;
	if (!ih && !wfetch_names_registry(r->t->image))
		return false; /* the create says "No such image" */
	if (!ih)
		rc = wfetch_pull(x->fetch, r->t->image, msg, &err);
	else if ((rc = wfetch_have(x->fetch, ih, &err)) == 0)
		rc = wfetch_want(x->fetch, ih, id, msg, &err);
	else if (rc > 0)
		return false; /* here by id, now under its name too */
	if (rc < 0) {
		set_state(r, WT_REJECTED, "rejected",
			  err.msg[0] ? err.msg : shoal_strerror(rc));
		return true;
	}
	if (r->state < WT_PREPARING)
		set_state(r, WT_PREPARING, msg, NULL);
	return true;
}

/* The runs waiting for image @id's fetch (or the pull of reference
 * @id, for a task whose item names no holders). */
static bool waits_for(const struct run *r, const char *id)
{
	const char *h = holders_image(r);
	return r->state == WT_PREPARING && !r->cid[0] && !r->stopping &&
	       !r->gone &&
	       (*h ? !strcmp(h, id) : r->t->image && !strcmp(r->t->image, id));
}

void wexec_image_progress(struct wexec *x, const char *id, const char *msg)
{
	struct list_node *p;
	list_for_each(p, &x->runs)
	{
		struct run *r = list_entry(p, struct run, node);
		if (waits_for(r, id) && strcmp(r->msg, msg))
			set_state(r, WT_PREPARING, msg, NULL);
	}
}

void wexec_image_fetched(struct wexec *x, const char *id, int rc,
			 const char *msg)
{
	struct list_node *p, *tmp;
	list_for_each_safe(p, tmp, &x->runs)
	{
		struct run *r = list_entry(p, struct run, node);
		if (!waits_for(r, id))
			continue;
		if (rc < 0)
			set_state(r, WT_REJECTED, "rejected",
				  *msg ? msg : shoal_strerror(rc));
		else
			reconcile(r);
	}
}

static void start_task(struct run *r)
{
	struct eng_spec spec;
	struct eng_created c;
	struct shoal_err err = {""};
	struct wexec *x = r->x;
	if (r->t->spec_error[0]) {
		set_state(r, WT_REJECTED, "rejected", r->t->spec_error);
		return;
	}
	if (!r->cid[0]) {
		if (wait_for_image(r))
			return;
		int rc = volumes_with_labels(r, &err);
		if (rc < 0) {
			set_state(r, WT_REJECTED, "rejected",
				  err.msg[0] ? err.msg : shoal_strerror(rc));
			return;
		}
		wtask_eng_spec(r->t, &spec);
		rc = with_secrets(r, &spec, &err);
		if (rc < 0) {
			set_state(r, WT_REJECTED, "rejected",
				  err.msg[0] ? err.msg : shoal_strerror(rc));
			return;
		}
		rc = eng_create(x->eng, &spec, &c, &err);
		shoal_free((void *)spec.volumes);
		if (rc < 0) {
			set_state(r, WT_REJECTED, "rejected",
				  err.msg[0] ? err.msg : shoal_strerror(rc));
			return;
		}
		memcpy(r->cid, c.id, sizeof(r->cid));
		set_state(r, WT_READY, "prepared", NULL);
	}
	if (r->t->desired < WT_RUNNING)
		return;
	int rc = eng_start(x->eng, r->cid, &err);
	if (rc < 0 && rc != -EALREADY) {
		set_state(r, WT_FAILED, "starting",
			  err.msg[0] ? err.msg : shoal_strerror(rc));
		return;
	}
	struct eng_info info;
	bool checked = false;
	if (eng_inspect(x->eng, r->cid, &info) == 0) {
		r->pid = info.rt.pid;
		checked = info.health_status != NULL;
		eng_info_fini(&info);
	}
	/* As Docker: a task with a health check is "starting" until its
	 * first healthy probe, then "running". */
	if (checked)
		set_state(r, WT_STARTING, "starting", NULL);
	else
		set_state(r, WT_RUNNING, "started", NULL);
}

static void reconcile(struct run *r)
{
	if (r->stopping)
		return;
	if (r->gone) {
		struct wexec *x = r->x;
		remove_container(r);
		run_free(r);
		save(x);
		return;
	}
	/* shutdown and remove alike: stopped and reported; the container
	 * goes when the task leaves the set (docs/services.md). */
	if (r->t->desired > WT_RUNNING) {
		if (up(r))
			stop_container(r);
		else if (r->state < WT_RUNNING)
			set_state(r, WT_SHUTDOWN, "shutdown", NULL);
		return;
	}
	if (up(r) || wtask_state_final(r->state))
		return;
	if (r->state < WT_ACCEPTED)
		set_state(r, WT_ACCEPTED, "accepted", NULL);
	start_task(r);
}

/* A run of a task container ended (not by our stop). */
static void task_exited(struct run *r, int code)
{
	char why[64];
	r->pid = 0;
	r->exit_code = code;
	if (r->unhealthy) {
		set_state(r, WT_FAILED, "unhealthy", "unhealthy container");
	} else if (code == 0) {
		set_state(r, WT_COMPLETE, "finished", NULL);
	} else {
		snprintf(why, sizeof(why), "task: non-zero exit (%d)", code);
		set_state(r, WT_FAILED, "failed", why);
	}
}

static void on_event(const struct eng_event *ev, void *arg)
{
	struct wexec *x = arg;
	struct run *r = find_cid(x, ev->id);
	if (!r)
		return;
	if (ev->type == ENG_EVENT_DESTROY && !r->gone) {
		/* Removed under us (docker rm -f): the task is over. */
		r->cid[0] = '\0';
		if (!r->stopping && !wtask_state_final(r->state))
			set_state(r, WT_FAILED, "failed",
				  "the task's container was removed");
		return;
	}
	if (ev->type == ENG_EVENT_HEALTH_HEALTHY && !r->stopping &&
	    r->state == WT_STARTING) {
		set_state(r, WT_RUNNING, "started", NULL);
		return;
	}
	if (ev->type == ENG_EVENT_HEALTH_UNHEALTHY && !r->stopping && up(r) &&
	    r->t->desired <= WT_RUNNING) {
		/* As swarmkit: failed at once (the managers replace it and
		 * drop it from every VIP map), then stopped. */
		log_warn("task=%s container %s is unhealthy; stopping it",
			 r->t->id, r->cid);
		r->unhealthy = true;
		set_state(r, WT_FAILED, "unhealthy", "unhealthy container");
		stop_container(r);
		return;
	}
	if (ev->type != ENG_EVENT_DIE || r->stopping || !up(r))
		return;
	task_exited(r, ev->exit_code);
}

/* ------------------------------------------------------------- adoption */

/* A run from the set on disk: its container's state now. */
static void adopt(struct run *r)
{
	struct eng_info info;
	const json_t *labels;
	if (eng_inspect(r->x->eng, r->t->container_name, &info) < 0) {
		r->cid[0] = '\0';
		if (up(r))
			set_state(r, WT_FAILED, "failed",
				  "the task's container was removed while "
				  "shoald was stopped");
		else if (r->state < WT_RUNNING)
			r->state = WT_ASSIGNED; /* created from scratch */
		return;
	}
	labels = json_object_get(info.record, "Labels");
	if (strcmp(jsonx_str(labels, TASK_LABEL, ""), r->t->id) != 0) {
		log_warn("container %s does not carry task=%s's label; left "
			 "alone",
			 info.rt.id, r->t->id);
		eng_info_fini(&info);
		set_state(r, WT_FAILED, "failed",
			  "another container holds the task's name");
		return;
	}
	memcpy(r->cid, info.rt.id, sizeof(r->cid));
	if (up(r) && !info.running)
		task_exited(r, info.rt.exit_code);
	else if (info.running)
		r->pid = info.rt.pid;
	eng_info_fini(&info);
	/* Failed (unhealthy) before its stop, and shoald stopped during
	 * that stop: stopped now. */
	if (r->pid > 0 && wtask_state_final(r->state))
		stop_now(r);
	r->dirty = true; /* the managers hear of it at the next session */
}

static void load(struct wexec *x)
{
	char path[4200], bad_path[4300];
	struct shoal_err err = {""};
	json_t *a = NULL;
	size_t i;
	json_t *e;
	snprintf(path, sizeof(path), "%s/tasks.json", x->dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	char *buf = NULL;
	int rc = fstat(fd, &st) < 0	  ? -errno
		 : st.st_size > STORE_MAX ? -EFBIG
					  : 0;
	if (rc == 0)
		buf = shoal_malloc((size_t)st.st_size + 1);
	if (rc == 0 && !buf)
		rc = -ENOMEM;
	if (rc == 0 && read(fd, buf, (size_t)st.st_size) != st.st_size)
		rc = -EIO;
	close(fd);
	if (rc == 0)
		rc = wexec_store_decode(buf, (size_t)st.st_size, &a, &err);
	shoal_free(buf);
	if (rc < 0) {
		snprintf(bad_path, sizeof(bad_path), "%s.corrupt", path);
		log_error("the task set %s does not load (%s); moved to %s, "
			  "the managers will send it again",
			  path, err.msg[0] ? err.msg : shoal_strerror(rc),
			  bad_path);
		rename(path, bad_path);
		return;
	}
	json_array_foreach(a, i, e)
	{
		char *text = jsonx_dump(jsonx_obj(e, "Task"), NULL);
		struct wtask *t = NULL;
		const json_t *s = jsonx_obj(e, "Status");
		enum wtask_state st_ = WT_ASSIGNED;
		if (text)
			rc = wtask_decode(text, strlen(text), &x->node, &t,
					  &err);
		shoal_free(text);
		if (!t) {
			log_warn("a task in %s is unreadable: %s", path,
				 err.msg);
			continue;
		}
		struct run *r = shoal_calloc(1, sizeof(*r));
		if (!r || find(x, t->id)) {
			shoal_free(r);
			wtask_free(t);
			continue;
		}
		r->x = x;
		r->t = t;
		wtask_state_parse(jsonx_str(s, "State", ""), &st_);
		r->state = st_;
		r->exit_code = -1;
		r->ts_ns = time_real_ns();
		snprintf(r->msg, sizeof(r->msg), "%s",
			 jsonx_str(s, "Message", ""));
		snprintf(r->err, sizeof(r->err), "%s", jsonx_str(s, "Err", ""));
		list_push_back(&x->runs, &r->node);
		adopt(r);
	}
	json_decref(a);
	log_info("adopted %zu tasks from %s", list_len(&x->runs), path);
}

/* Task containers no task of the set owns: left by a lost set. */
static void sweep(struct wexec *x)
{
	char **ids = NULL;
	size_t n = 0;
	if (eng_list(x->eng, &ids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct eng_info info;
		if (eng_inspect(x->eng, ids[i], &info) < 0)
			continue;
		const char *task = jsonx_str(
			json_object_get(info.record, "Labels"), TASK_LABEL, "");
		const char *node =
			jsonx_str(json_object_get(info.record, "Labels"),
				  "com.docker.swarm.node.id", "");
		if (*task && strcmp(node, x->node_id) == 0 && !find(x, task)) {
			log_info("removing container %s of task=%s, no longer "
				 "this node's",
				 ids[i], task);
			eng_remove(x->eng, ids[i], true, false);
		}
		eng_info_fini(&info);
	}
	rt_list_free(ids, n);
}

/* ------------------------------------------------------------ interface */

int wexec_open(const struct wexec_config *cfg, struct wexec **out)
{
	struct wexec *x = shoal_calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->loop = cfg->loop;
	x->eng = cfg->eng;
	snprintf(x->dir, sizeof(x->dir), "%s/worker", cfg->data_root);
	snprintf(x->node_id, sizeof(x->node_id), "%s", cfg->node_id);
	snprintf(x->hostname, sizeof(x->hostname), "%s",
		 cfg->node.hostname ? cfg->node.hostname : "");
	snprintf(x->os, sizeof(x->os), "%s",
		 cfg->node.platform_os ? cfg->node.platform_os : "");
	snprintf(x->arch, sizeof(x->arch), "%s",
		 cfg->node.platform_arch ? cfg->node.platform_arch : "");
	x->node = (struct wtask_node){x->hostname, x->os, x->arch};
	x->report = cfg->report;
	x->leave = cfg->leave;
	x->fetch = cfg->fetch;
	x->arg = cfg->arg;
	x->sweep_due = true;
	list_init(&x->runs);
	char sroot[4200];
	int rc = path_mkdir_p(x->dir, 0700);
	if (rc < 0)
		log_error("cannot create %s: %s", x->dir, shoal_strerror(rc));
	snprintf(sroot, sizeof(sroot), "%s/secrets", x->dir);
	rc = wsecrets_new(sroot, &x->secrets);
	if (rc == 0)
		rc = eng_subscribe(x->eng, on_event, x, &x->sub);
	if (rc < 0) {
		wsecrets_free(x->secrets);
		shoal_free(x);
		return rc;
	}
	uv_timer_init(x->loop, &x->flush);
	x->flush.data = x;
	x->flush_open = true;
	load(x);
	*out = x;
	return 0;
}

void wexec_assign(struct wexec *x, const struct agent_item *items, size_t n)
{
	struct list_node *p, *tmp;
	list_for_each(p, &x->runs) list_entry(p, struct run, node)->gone = true;
	wsecrets_begin(x->secrets);
	for (size_t i = 0; i < n; i++) {
		struct shoal_err err = {""};
		struct wtask *t = NULL;
		int rc = wsecrets_item(x->secrets, items[i].data, items[i].len,
				       &err);
		if (rc != 0) { /* a secret, a config or another kind */
			if (rc < 0)
				log_warn("assignment refused: %s",
					 err.msg[0] ? err.msg
						    : shoal_strerror(rc));
			continue;
		}
		rc = wtask_decode(items[i].data, items[i].len, &x->node, &t,
				  &err);
		if (rc == -ENOMSG) { /* not a task: worker/net.c's, ... */
			log_debug("assignment item skipped: %s", err.msg);
			continue;
		}
		if (rc < 0) {
			log_warn("assignment refused: %s",
				 err.msg[0] ? err.msg : shoal_strerror(rc));
			continue;
		}
		if (strcmp(t->node_id, x->node_id) != 0) {
			log_warn("task=%s is for node=%s, not this node=%s; "
				 "refused",
				 t->id, t->node_id, x->node_id);
			wtask_free(t);
			continue;
		}
		struct run *r = find(x, t->id);
		if (r) {
			r->gone = false;
			if (t->version >= r->t->version) {
				wtask_free(r->t);
				r->t = t;
			} else {
				wtask_free(t);
			}
			continue;
		}
		r = shoal_calloc(1, sizeof(*r));
		if (!r) {
			wtask_free(t);
			log_warn("task=%s dropped: out of memory", t->id);
			continue;
		}
		r->x = x;
		r->t = t;
		r->exit_code = -1;
		r->ts_ns = time_real_ns();
		wtask_state_parse(
			jsonx_str(jsonx_obj(t->json, "Status"), "State", ""),
			&r->state);
		list_push_back(&x->runs, &r->node);
		/* Reported before by this node, whose set file is lost: its
		 * container, if any, is found by name. */
		if (r->state > WT_ASSIGNED && !wtask_state_final(r->state))
			adopt(r);
	}
	wsecrets_commit(x->secrets);
	if (x->sweep_due) {
		x->sweep_due = false;
		sweep(x);
	}
	list_for_each_safe(p, tmp, &x->runs)
	{
		struct run *r = list_entry(p, struct run, node);
		if (r->gone && r->stopping)
			continue;
		if (r->gone && up(r)) {
			stop_container(r);
			if (r->stopping)
				continue;
		}
		reconcile(r);
	}
	save(x);
}

void wexec_resend(struct wexec *x)
{
	struct list_node *p;
	x->sweep_due = true;
	list_for_each(p, &x->runs)
	{
		struct run *r = list_entry(p, struct run, node);
		if (!r->gone && r->state > WT_ASSIGNED)
			dirty(r);
	}
}

void wexec_leave(struct wexec *x)
{
	struct list_node *p, *tmp;
	char path[4200];
	list_for_each_safe(p, tmp, &x->runs)
	{
		struct run *r = list_entry(p, struct run, node);
		r->gone = true;
		if (!r->stopping) {
			remove_container(r);
			run_free(r);
		} else if (r->cid[0]) {
			eng_kill(x->eng, r->cid, SIGKILL);
		}
	}
	snprintf(path, sizeof(path), "%s/tasks.json", x->dir);
	unlink(path);
}

static void flush_closed(uv_handle_t *h)
{
	struct wexec *x = h->data;
	x->flush_open = false;
	maybe_free(x);
}

void wexec_close(struct wexec *x)
{
	struct list_node *p, *tmp;
	x->closing = true;
	eng_unsubscribe(x->sub);
	list_for_each_safe(p, tmp, &x->runs)
	{
		struct run *r = list_entry(p, struct run, node);
		if (!r->stopping) {
			run_free(r);
		} else {
			/* stopped() frees it; its host copy goes now. */
			wsecrets_release(x->secrets, r->t->id);
			list_remove(&r->node);
		}
	}
	uv_close((uv_handle_t *)&x->flush, flush_closed);
}

int wexec_container_of(const struct wexec *x, const char *task_id,
		       char cid[RT_ID_LEN + 1])
{
	struct run *r = find((struct wexec *)x, task_id);
	if (!r || !r->cid[0])
		return -ENOENT;
	memcpy(cid, r->cid, RT_ID_LEN + 1);
	return 0;
}

size_t wexec_count(const struct wexec *x)
{
	return list_len(&x->runs);
}

char *wexec_status(const struct wexec *x, const char *id)
{
	struct run *r = find((struct wexec *)x, id);
	if (!r)
		return NULL;
	json_t *s = status_json(r);
	char *text = s ? jsonx_dump(s, NULL) : NULL;
	json_decref(s);
	return text;
}
