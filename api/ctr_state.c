/*
 * The API's state beside the runtime (see struct api__state in
 * internal.h): exit watches, waiters, Docker's per-container metadata.
 *
 * Invariants: a running container started or re-attached by this daemon
 * has exactly one exit watch in st->watches, also when it exited before
 * the watch could start (the runtime then reports that exit on the next
 * loop turn, see runtime/watch.c); a waiter is in st->waiters
 * until its callback runs or its owner cancels it, and its callback runs at
 * most once. When a watch fires, the waiters on that container are moved
 * to a private list before any callback runs, so a callback may start the
 * container again (restart) or queue new waiters without being woken by
 * the exit it is handling. Auto-remove (docker run --rm) happens here, on
 * the exit, so detached --rm containers go away without any client.
 *
 * docker.json is written with a temporary file and a rename, so a crash
 * leaves the old or the new file, never half of one.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct api__watch {
	struct api__state *st;
	struct rt_exit_watch *w;
	char id[65];
};

int api__state_new(const struct api_services *svc, struct api__state **out)
{
	struct api__state *st = shoal_calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->rt = svc->rt;
	st->img = svc->images;
	st->loop = svc->loop;
	st->data_root = svc->data_root;
	list_init(&st->waiters);
	list_init(&st->exec_lru);
	list_init(&st->attaches);
	*out = st;
	return 0;
}

/* Move the waiters on @id (of @kind, or all when @all) to @out. */
static void take_waiters(struct api__state *st, const char *id, bool all,
			 int code, struct list_node *out)
{
	struct list_node *n, *t;
	list_for_each_safe(n, t, &st->waiters)
	{
		struct api__waiter *w = list_entry(n, struct api__waiter, node);
		if (strcmp(w->id, id) != 0)
			continue;
		if (!all && w->kind == API__WAIT_REMOVED) {
			w->last_code = code;
			continue;
		}
		list_remove(n);
		list_push_back(out, n);
	}
}

static void run_waiters(struct list_node *l, int code, bool removed)
{
	while (!list_empty(l)) {
		struct list_node *n = list_front(l);
		struct api__waiter *w = list_entry(n, struct api__waiter, node);
		list_remove(n);
		int c = removed && w->last_code >= 0 ? w->last_code : code;
		w->fn(w, c, removed);
	}
}

void api__state_free(struct api__state *st)
{
	if (!st)
		return;
	size_t pos = 0, klen;
	const void *key;
	void *val;
	while (hmap_next(&st->watches, &pos, &key, &klen, &val)) {
		struct api__watch *aw = val;
		rt_exit_watch_close(aw->w);
		shoal_free(aw);
	}
	hmap_fini(&st->watches);
	api__exec_free_all(st);
	hmap_fini(&st->execs);
	/*
	 * The HTTP server has closed every response by now, so the waiters
	 * left are stops and restarts whose client went away: wake them as
	 * if their container were gone so they release their timers.
	 */
	struct list_node l;
	list_init(&l);
	while (!list_empty(&st->waiters)) {
		struct list_node *n = list_front(&st->waiters);
		list_remove(n);
		list_push_back(&l, n);
	}
	run_waiters(&l, -1, true);
	shoal_free(st);
}

static bool auto_remove(struct api__state *st, const char *id)
{
	json_t *m = NULL;
	if (api__meta_load(st, id, &m) < 0)
		return false;
	bool ar = jsonx_bool(jsonx_obj(m, "HostConfig"), "AutoRemove", false);
	json_decref(m);
	return ar;
}

static void exit_seen(struct rt_exit_watch *w, const char *cid, int code,
		      bool oom, void *arg)
{
	struct api__watch *aw = arg;
	struct api__state *st = aw->st;
	char id[65];
	snprintf(id, sizeof(id), "%s", aw->id);
	hmap_del_str(&st->watches, id);
	rt_exit_watch_close(w);
	shoal_free(aw);
	log_debug("container=%s exited with %d%s", id, code,
		  oom ? " (OOM)" : "");
	struct list_node l;
	list_init(&l);
	take_waiters(st, id, false, code, &l);
	run_waiters(&l, code, false);
	if (auto_remove(st, id)) {
		int rc = api__remove(st, id, false, true);
		if (rc < 0 && rc != SHOAL_ENOTFOUND)
			log_warn("container=%s auto-remove failed: %s", id,
				 shoal_strerror(rc));
		return;
	}
	/*
	 * An exit seen late (the watch's timer) may be reported after the
	 * container was started again by a request handled meanwhile, whose
	 * api__watch() found this watch still armed: watch the new run.
	 */
	struct rt_info info;
	if (rt_container_inspect(st->rt, id, &info) < 0)
		return;
	bool running = info.status == RT_STATUS_RUNNING ||
		       info.status == RT_STATUS_PAUSED;
	rt_info_fini(&info);
	int rc;
	if (running && (rc = api__watch(st, id)) < 0)
		log_warn("container=%s: cannot watch its exit: %s", id,
			 shoal_strerror(rc));
}

int api__watch(struct api__state *st, const char *id)
{
	if (hmap_get_str(&st->watches, id))
		return 0;
	struct api__watch *aw = shoal_calloc(1, sizeof(*aw));
	if (!aw)
		return -ENOMEM;
	aw->st = st;
	snprintf(aw->id, sizeof(aw->id), "%s", id);
	int rc = rt_exit_watch_start(st->rt, st->loop, id, exit_seen, aw,
				     &aw->w);
	if (rc == 0)
		rc = hmap_put_str(&st->watches, aw->id, aw, NULL);
	if (rc < 0) {
		if (aw->w)
			rt_exit_watch_close(aw->w);
		shoal_free(aw);
	}
	return rc;
}

void api__wait_add(struct api__state *st, struct api__waiter *w)
{
	w->last_code = -1;
	list_push_back(&st->waiters, &w->node);
}

void api__wait_cancel(struct api__waiter *w)
{
	if (w->node.next && !list_empty(&w->node))
		list_remove(&w->node);
}

void api__gone(struct api__state *st, const char *id, int code)
{
	struct api__watch *aw = hmap_del_str(&st->watches, id);
	if (aw) {
		rt_exit_watch_close(aw->w);
		shoal_free(aw);
	}
	struct list_node l;
	list_init(&l);
	take_waiters(st, id, true, code, &l);
	run_waiters(&l, code, true);
}

/* --- docker.json ---------------------------------------------------------- */

static int meta_path(struct api__state *st, const char *id, const char *suffix,
		     char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/containers/%s/docker.json%s",
			 st->data_root, id, suffix);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int api__meta_load(struct api__state *st, const char *id, json_t **out)
{
	char path[4200];
	int rc = meta_path(st, id, "", path, sizeof(path));
	if (rc < 0)
		return rc;
	/* json_load_file() would fopen() without close-on-exec. */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	json_error_t e;
	json_t *m = fd < 0 ? NULL : json_loadfd(fd, 0, &e);
	if (fd >= 0)
		close(fd);
	if (!m)
		return access(path, F_OK) == 0 ? SHOAL_ECORRUPT : -ENOENT;
	if (!json_is_object(m)) {
		json_decref(m);
		return SHOAL_ECORRUPT;
	}
	*out = m;
	return 0;
}

int api__meta_save(struct api__state *st, const char *id, const json_t *m)
{
	char path[4200], tmp[4200];
	int rc = meta_path(st, id, "", path, sizeof(path));
	if (rc == 0)
		rc = meta_path(st, id, ".tmp", tmp, sizeof(tmp));
	if (rc < 0)
		return rc;
	size_t len;
	char *s = jsonx_dump(m, &len);
	if (!s)
		return -ENOMEM;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto err_free;
	}
	if (write(fd, s, len) != (ssize_t)len) {
		rc = -EIO;
		goto err_close;
	}
	if (close(fd) < 0) {
		rc = -errno;
		goto err_unlink;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto err_unlink;
	}
	shoal_free(s);
	return 0;
err_close:
	close(fd);
err_unlink:
	unlink(tmp);
err_free:
	shoal_free(s);
	return rc;
}

/* --- removal -------------------------------------------------------------- */

int api__remove(struct api__state *st, const char *id, bool force, bool volumes)
{
	json_t *m = NULL;
	struct rt_info info;
	int code = -1;
	if (rt_container_inspect(st->rt, id, &info) == 0) {
		code = info.status == RT_STATUS_EXITED ? info.exit_code : -1;
		rt_info_fini(&info);
	}
	api__meta_load(st, id, &m);
	int rc = rt_container_remove(st->rt, id, force, volumes);
	if (rc < 0) {
		json_decref(m);
		return rc;
	}
	const char *image = m ? jsonx_str(m, "ImageID", NULL) : NULL;
	if (image && st->img)
		img_unuse(st->img, image, id);
	json_decref(m);
	if (force && code < 0)
		code = 137;
	api__gone(st, id, code);
	return 0;
}

/* --- start-up ------------------------------------------------------------- */

int api_containers_restore(struct api *api)
{
	struct api__state *st = api__state_for(api);
	if (!st)
		return 0;
	char **ids;
	size_t n;
	int rc = rt_container_list(st->rt, &ids, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		json_t *m = NULL;
		if (api__meta_load(st, ids[i], &m) == 0) {
			const char *image = jsonx_str(m, "ImageID", NULL);
			if (image && st->img &&
			    img_use(st->img, image, ids[i]) < 0)
				log_warn("container=%s: its image %s is gone",
					 ids[i], image);
			json_decref(m);
		}
		struct rt_info info;
		if (rt_container_inspect(st->rt, ids[i], &info) < 0)
			continue;
		bool running = info.status == RT_STATUS_RUNNING ||
			       info.status == RT_STATUS_PAUSED;
		bool exited = info.status == RT_STATUS_EXITED;
		rt_info_fini(&info);
		/* An --rm container that exited while shoald was away. */
		if (exited && auto_remove(st, ids[i])) {
			log_info("container=%s exited while shoald was "
				 "stopped; auto-removing it",
				 ids[i]);
			api__remove(st, ids[i], false, true);
			continue;
		}
		if (running && (rc = api__watch(st, ids[i])) < 0)
			log_warn("container=%s: cannot watch its exit: %s",
				 ids[i], shoal_strerror(rc));
	}
	rt_list_free(ids, n);
	return 0;
}

void api_counts_fill(struct api *api, struct api_counts *out)
{
	struct api__state *st = api__state_for(api);
	memset(out, 0, sizeof(*out));
	if (!st)
		return;
	char **ids;
	size_t n;
	if (rt_container_list(st->rt, &ids, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct rt_info info;
			if (rt_container_inspect(st->rt, ids[i], &info) < 0)
				continue;
			if (info.status == RT_STATUS_RUNNING)
				out->containers_running++;
			else if (info.status == RT_STATUS_PAUSED)
				out->containers_paused++;
			else
				out->containers_stopped++;
			rt_info_fini(&info);
		}
		rt_list_free(ids, n);
	}
	json_t *l = NULL;
	if (st->img && img_list_json(st->img, &l, NULL) == 0) {
		out->images = (int)json_array_size(l);
		json_decref(l);
	}
}

/* --- helpers -------------------------------------------------------------- */

struct api__state *api__need(struct api_call *call)
{
	struct api__state *st = api__state_of(call);
	if (!st)
		api_reply_error(call, 501,
				"this daemon runs without a container runtime");
	return st;
}

bool api__query_bool(const struct api_call *call, const char *name, bool def)
{
	const char *v = http_request_query(call->req, name);
	if (!v)
		return def;
	if (!*v)
		return true;
	return strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
	       strcasecmp(v, "yes") == 0;
}

void api__status_text(const struct rt_info *info, char *out, size_t cap)
{
	char d[64];
	int64_t now = time_real_ns();
	switch (info->status) {
	case RT_STATUS_RUNNING:
	case RT_STATUS_PAUSED:
		time_format_human((now - info->started_ns) / NSEC_PER_SEC, d,
				  sizeof(d));
		snprintf(out, cap, "Up %s%s", d,
			 info->status == RT_STATUS_PAUSED ? " (Paused)" : "");
		break;
	case RT_STATUS_EXITED:
		if (info->finished_ns <= 0) {
			snprintf(out, cap, "Exited (%d)", info->exit_code);
			break;
		}
		time_format_human((now - info->finished_ns) / NSEC_PER_SEC, d,
				  sizeof(d));
		snprintf(out, cap, "Exited (%d) %s ago", info->exit_code, d);
		break;
	default:
		snprintf(out, cap, "Created");
	}
}
