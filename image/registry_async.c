/*
 * img_pull() and img_push() for the libuv loop: the pull (or push) runs on
 * libuv's thread pool and its messages reach the loop thread through a
 * uv_async_t. Unlike the store's load progress, pull messages are not
 * coalesced: a client draws one line per layer and must see every status
 * change. They wait in a queue bounded at QUEUE_MAX; past it, byte-count
 * updates ("Downloading", "Extracting") are dropped, never the others. The
 * completion callback runs once, after the last message; the job is freed in
 * the async handle's close callback.
 */
#include "image/registry.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "common/alloc.h"
#include "image/internal.h"

#define QUEUE_MAX 4096

struct qmsg {
	struct qmsg *next;
	struct img_pull_msg m;
	char status[96];
	char id[80];
};

struct job {
	uv_work_t work;
	uv_async_t async;
	struct img_store *s;
	json_t *strings; /* copies of the options' strings */
	struct img_pull_opts o;
	bool push;    /* img_push() of o's fields */
	bool inspect; /* img_distribution() */
	bool login;   /* img_login() of o.reference */
	bool search;  /* img_search() of host, term, limit */
	char host[256];
	char term[256];
	size_t limit;
	const char **insecure;
	img_pull_msg_fn *msg;
	img_done_fn *done;
	void *arg;
	pthread_mutex_t lock;
	struct qmsg *head, *tail;
	size_t queued;
	int rc;
	struct shoal_err err;
	json_t *result;
};

static void on_msg(const struct img_pull_msg *m, void *arg)
{
	struct job *j = arg;
	bool counts = !strcmp(m->status, "Downloading") ||
		      !strcmp(m->status, "Extracting");
	pthread_mutex_lock(&j->lock);
	bool full = j->queued >= QUEUE_MAX && counts;
	pthread_mutex_unlock(&j->lock);
	if (full || !j->msg)
		return;
	struct qmsg *q = shoal_calloc(1, sizeof(*q));
	if (!q)
		return;
	snprintf(q->status, sizeof(q->status), "%s", m->status);
	snprintf(q->id, sizeof(q->id), "%s", m->id);
	q->m = *m;
	q->m.status = q->status;
	q->m.id = q->id;
	pthread_mutex_lock(&j->lock);
	if (j->tail)
		j->tail->next = q;
	else
		j->head = q;
	j->tail = q;
	j->queued++;
	pthread_mutex_unlock(&j->lock);
	uv_async_send(&j->async);
}

static void deliver(uv_async_t *h)
{
	struct job *j = h->data;
	pthread_mutex_lock(&j->lock);
	struct qmsg *q = j->head;
	j->head = j->tail = NULL;
	j->queued = 0;
	pthread_mutex_unlock(&j->lock);
	while (q) {
		struct qmsg *next = q->next;
		if (j->msg)
			j->msg(&q->m, j->arg);
		shoal_free(q);
		q = next;
	}
}

static void work(uv_work_t *w)
{
	struct job *j = w->data;
	if (j->search) {
		j->rc = img_search(&j->o, j->host, j->term, j->limit,
				   &j->result, &j->err);
		return;
	}
	if (j->login) {
		j->rc = img_login(&j->o, j->o.reference, &j->err);
		if (j->rc == 0 && !(j->result = json_pack("{s:s}", "Status",
							  "Login Succeeded")))
			j->rc = -ENOMEM;
		return;
	}
	if (j->inspect) {
		j->rc = img_distribution(&j->o, &j->result, &j->err);
		return;
	}
	if (j->push) {
		struct img_push_opts po = {
			.reference = j->o.reference,
			.auth = j->o.auth,
			.insecure = j->o.insecure,
			.n_insecure = j->o.n_insecure,
			.certs_dir = j->o.certs_dir,
		};
		j->rc = img_push(j->s, &po, on_msg, j, &j->result, &j->err);
		return;
	}
	j->rc = img_pull(j->s, &j->o, on_msg, j, &j->result, &j->err);
}

static void job_free(struct job *j)
{
	json_decref(j->strings);
	json_decref(j->result);
	shoal_free(j->insecure);
	pthread_mutex_destroy(&j->lock);
	shoal_free(j);
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
		j->rc = status;
	j->done(j->rc, j->rc < 0 ? j->err.msg : NULL,
		j->rc < 0 ? NULL : j->result, j->arg);
	uv_close((uv_handle_t *)&j->async, closed);
}

/* A copy of @s kept alive by j->strings; NULL stays NULL. */
static const char *keep(struct job *j, const char *s, bool *fail)
{
	if (!s)
		return NULL;
	json_t *v = json_string(s);
	if (!v || json_array_append_new(j->strings, v) < 0) {
		*fail = true;
		return NULL;
	}
	return json_string_value(v);
}

/* What a search job takes besides the options. */
struct search_args {
	const char *host, *term;
	size_t limit;
};

/* @kind: 0 pull, 1 push, 2 distribution inspect, 3 login, 4 search (@sa). */
static int start(uv_loop_t *loop, struct img_store *s,
		 const struct img_pull_opts *o, int kind, img_pull_msg_fn *msg,
		 img_done_fn *done, void *arg, const struct search_args *sa)
{
	struct job *j = shoal_calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	pthread_mutex_init(&j->lock, NULL);
	bool fail = false;
	j->s = s;
	j->push = kind == 1;
	j->inspect = kind == 2;
	j->login = kind == 3;
	j->search = kind == 4;
	if (sa) {
		snprintf(j->host, sizeof(j->host), "%s", sa->host);
		snprintf(j->term, sizeof(j->term), "%s", sa->term);
		j->limit = sa->limit;
	}
	j->msg = msg;
	j->done = done;
	j->arg = arg;
	j->strings = json_array();
	j->insecure = shoal_calloc(o->n_insecure + 1, sizeof(char *));
	fail = !j->strings || !j->insecure;
	if (!fail) {
		j->o.reference = keep(j, o->reference, &fail);
		j->o.auth.username = keep(j, o->auth.username, &fail);
		j->o.auth.password = keep(j, o->auth.password, &fail);
		j->o.auth.identity_token =
			keep(j, o->auth.identity_token, &fail);
		j->o.auth.registry_token =
			keep(j, o->auth.registry_token, &fail);
		j->o.platform = keep(j, o->platform, &fail);
		j->o.certs_dir = keep(j, o->certs_dir, &fail);
		for (size_t i = 0; i < o->n_insecure; i++)
			j->insecure[i] = keep(j, o->insecure[i], &fail);
		j->o.insecure = j->insecure;
		j->o.n_insecure = o->n_insecure;
		j->o.all_tags = o->all_tags;
	}
	if (fail) {
		job_free(j);
		return -ENOMEM;
	}
	j->work.data = j;
	j->async.data = j;
	int rc = uv_async_init(loop, &j->async, deliver);
	if (rc < 0) {
		job_free(j);
		return rc;
	}
	rc = uv_queue_work(loop, &j->work, work, after_work);
	if (rc < 0) {
		uv_close((uv_handle_t *)&j->async, closed);
		return rc;
	}
	return 0;
}

int img_pull_async(uv_loop_t *loop, struct img_store *s,
		   const struct img_pull_opts *o, img_pull_msg_fn *msg,
		   img_done_fn *done, void *arg)
{
	return start(loop, s, o, 0, msg, done, arg, NULL);
}

int img_push_async(uv_loop_t *loop, struct img_store *s,
		   const struct img_push_opts *o, img_pull_msg_fn *msg,
		   img_done_fn *done, void *arg)
{
	struct img_pull_opts po = {
		.reference = o->reference,
		.auth = o->auth,
		.insecure = o->insecure,
		.n_insecure = o->n_insecure,
		.certs_dir = o->certs_dir,
	};
	return start(loop, s, &po, 1, msg, done, arg, NULL);
}

int img_distribution_async(uv_loop_t *loop, const struct img_pull_opts *o,
			   img_done_fn *done, void *arg)
{
	return start(loop, NULL, o, 2, NULL, done, arg, NULL);
}

int img_login_async(uv_loop_t *loop, const struct img_pull_opts *o,
		    img_done_fn *done, void *arg)
{
	return start(loop, NULL, o, 3, NULL, done, arg, NULL);
}

int img_search_async(uv_loop_t *loop, const struct img_pull_opts *o,
		     const char *host, const char *term, size_t limit,
		     img_done_fn *done, void *arg)
{
	struct search_args sa = {host, term, limit};
	if (strlen(host) >= 256 || strlen(term) >= 256)
		return -EINVAL;
	return start(loop, NULL, o, 4, NULL, done, arg, &sa);
}
