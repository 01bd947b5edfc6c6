/*
 * img_import() and img_load() for a libuv daemon: the work runs on libuv's
 * thread pool (uv_queue_work), so unpacking and hashing never block the
 * loop. Progress reports from the worker are coalesced into one slot under
 * a mutex and delivered on the loop thread through a uv_async_t (libuv may
 * merge several uv_async_send() calls into one callback; the newest report
 * wins, which is what a progress bar wants). The completion callback runs
 * on the loop thread exactly once, after the last progress report; the
 * job's memory is released in the async handle's close callback, as libuv
 * requires.
 */
#include "image/internal.h"

#include <errno.h>
#include <string.h>

#include "common/alloc.h"

struct job {
	uv_work_t work;
	uv_async_t async;
	struct img_store *s;
	int fd;
	bool load;
	char *reference;
	char *message;
	char **changes;
	size_t n_changes;
	img_progress_fn *progress;
	void *progress_arg;
	img_done_fn *done;
	void *arg;
	pthread_mutex_t lock;
	struct img_progress last;
	char phase[32];
	bool pending;
	int rc;
	struct shoal_err err;
	json_t *result;
};

static void job_free(struct job *j)
{
	for (size_t i = 0; i < j->n_changes; i++)
		shoal_free(j->changes[i]);
	shoal_free(j->changes);
	shoal_free(j->reference);
	shoal_free(j->message);
	json_decref(j->result);
	pthread_mutex_destroy(&j->lock);
	shoal_free(j);
}

/* Worker thread: keep the newest report, wake the loop. */
static void on_progress(const struct img_progress *p, void *arg)
{
	struct job *j = arg;
	pthread_mutex_lock(&j->lock);
	j->last = *p;
	snprintf(j->phase, sizeof(j->phase), "%s", p->phase ? p->phase : "");
	j->last.phase = j->phase;
	j->pending = true;
	pthread_mutex_unlock(&j->lock);
	uv_async_send(&j->async);
}

/* Loop thread. */
static void deliver(uv_async_t *h)
{
	struct job *j = h->data;
	struct img_progress p;
	char phase[32];
	pthread_mutex_lock(&j->lock);
	bool pending = j->pending;
	p = j->last;
	memcpy(phase, j->phase, sizeof(phase));
	j->pending = false;
	pthread_mutex_unlock(&j->lock);
	p.phase = phase;
	if (pending && j->progress)
		j->progress(&p, j->progress_arg);
}

static void work(uv_work_t *w)
{
	struct job *j = w->data;
	if (j->load) {
		j->rc = img_load(j->s, j->fd, on_progress, j, &j->result,
				 &j->err);
		return;
	}
	struct img_import_opts o = {
		.reference = j->reference,
		.changes = (const char *const *)j->changes,
		.n_changes = j->n_changes,
		.message = j->message,
		.progress = on_progress,
		.progress_arg = j,
	};
	char id[DIGEST_STR_LEN];
	j->rc = img_import(j->s, j->fd, &o, id, &j->err);
	if (j->rc == 0) {
		j->result = json_string(id);
		if (!j->result)
			j->rc = -ENOMEM;
	}
}

static void closed(uv_handle_t *h)
{
	job_free(h->data);
}

static void after_work(uv_work_t *w, int status)
{
	struct job *j = w->data;
	deliver(&j->async);
	if (status < 0 && j->rc == 0)
		j->rc = status; /* UV_ECANCELED */
	j->done(j->rc, j->rc < 0 ? j->err.msg : NULL,
		j->rc < 0 ? NULL : j->result, j->arg);
	uv_close((uv_handle_t *)&j->async, closed);
}

static int start(uv_loop_t *loop, struct job *j)
{
	pthread_mutex_init(&j->lock, NULL);
	j->work.data = j;
	j->async.data = j;
	int rc = uv_async_init(loop, &j->async, deliver);
	if (rc < 0) {
		job_free(j);
		return rc;
	}
	rc = uv_queue_work(loop, &j->work, work, after_work);
	if (rc < 0) {
		/* The close callback frees the job; done never runs. */
		uv_close((uv_handle_t *)&j->async, closed);
		return rc;
	}
	return 0;
}

static char *dup_opt(const char *s, bool *fail)
{
	if (!s)
		return NULL;
	char *d = shoal_strdup(s);
	if (!d)
		*fail = true;
	return d;
}

int img_import_async(uv_loop_t *loop, struct img_store *s, int fd,
		     const struct img_import_opts *o, img_done_fn *done,
		     void *arg)
{
	struct job *j = shoal_calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	bool fail = false;
	j->s = s;
	j->fd = fd;
	j->done = done;
	j->arg = arg;
	if (o) {
		j->progress = o->progress;
		j->progress_arg = o->progress_arg;
		j->reference = dup_opt(o->reference, &fail);
		j->message = dup_opt(o->message, &fail);
		j->changes = shoal_calloc(o->n_changes + 1, sizeof(char *));
		fail |= !j->changes;
		for (size_t i = 0; !fail && i < o->n_changes; i++) {
			j->changes[i] = dup_opt(o->changes[i], &fail);
			j->n_changes = i + 1;
		}
	}
	if (fail) {
		pthread_mutex_init(&j->lock, NULL);
		job_free(j);
		return -ENOMEM;
	}
	return start(loop, j);
}

int img_load_async(uv_loop_t *loop, struct img_store *s, int fd,
		   img_progress_fn *progress, img_done_fn *done, void *arg)
{
	struct job *j = shoal_calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->s = s;
	j->fd = fd;
	j->load = true;
	j->progress = progress;
	j->progress_arg = arg;
	j->done = done;
	j->arg = arg;
	return start(loop, j);
}
