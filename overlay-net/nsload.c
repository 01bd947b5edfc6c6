/*
 * Loading nftables text into containers' network namespaces off the
 * loop's thread (docs/overlay.md, "Loading the VIP maps").
 *
 * A VIP map (and on the ingress network the routing mesh's marks and
 * routes) must be loaded in every namespace on an overlay when a task
 * joins or leaves its services: entering a namespace (setns) and running
 * libnftables there costs ~10-15 ms per namespace, which on the loop's
 * thread stalled every session, API request and DNS answer of the node
 * for N x 15 ms. Here one worker thread per node (started at the first
 * load) takes the jobs from a queue:
 *
 *   - one job per (namespace, network): a newer map for a pair still
 *     queued replaces the queued text (coalescing: only the newest wanted
 *     map is loaded), keeping the job's place;
 *   - one thread, so the loads of a namespace are serialised and run in
 *     the order they were wanted: a later map is never overwritten by an
 *     earlier one (a coalesced job holds the newest text; a job being
 *     loaded while a newer one is queued is followed by it);
 *   - the loop's thread never changes namespace; the worker's does, and
 *     always enters the job's namespace first and returns to the node's
 *     after it (a thread left in a container's namespace would keep the
 *     namespace, and its veth, alive after the container is gone);
 *   - results come back on the loop (uv_async): a failure is logged there
 *     once, naming the network and the namespace; a namespace gone
 *     meanwhile (its container removed) is not an error.
 *
 * A barrier (net_when_loaded()) runs its callback on the loop once every
 * job queued before it is done: the executor stops a task's container
 * only once the maps without the task are in (no new connection to a
 * container that got its stop signal). A load that must be in before its
 * caller goes on (a container's namespace when it is bound, before its
 * process starts) is queued at the head, its pair's queued job taken
 * over, and waited for: at most the job being loaded is ahead of it.
 *
 * Without a loop (tools, tests) every load runs on the caller's thread
 * through a short-lived thread of its own, as before.
 *
 * Bounded: at most one job per (namespace, network) pair, so the queue
 * holds at most the node's endpoints on overlays.
 */
#define LOG_MODULE "net"
#include "common/alloc.h"
#include "common/list.h"
#include "common/log.h"
#include "overlay-net/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct load_job {
	struct list_node node; /* in queue or done */
	uint64_t seq;
	char path[PATH_MAX];
	char net_id[65];
	char net_name[256];
	char sandbox[65];
	char ifname[IFNAMSIZ];
	char *text;	  /* owned */
	uint32_t *inodes; /* owned: the ingress network's nodes, or NULL */
	size_t n_inodes;
	bool wait; /* a caller on the loop waits for it (not in done) */
	bool finished;
	int rc;
	char err[256];
};

struct barrier {
	struct list_node node;
	uint64_t seq; /* every job up to it done */
	void (*cb)(void *);
	void *arg;
};

struct net__loader {
	uv_loop_t *loop;
	uv_async_t async;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;	   /* a job queued, or stop */
	pthread_cond_t finished;   /* a waited-for job is done */
	struct list_node queue;	   /* of load_job, FIFO */
	struct list_node done;	   /* finished jobs, for the loop */
	struct list_node barriers; /* loop thread only */
	struct load_job *running;  /* the job being loaded, or NULL */
	uint64_t next_seq;
	uint64_t loads; /* jobs run (tests, the bench) */
	bool paused;	/* tests: the worker takes no job */
	bool stop;
};

static void job_free(struct load_job *j)
{
	shoal_free(j->text);
	shoal_free(j->inodes);
	shoal_free(j);
}

/* In the worker's thread: enter the job's namespace, run its text. */
static void run_job(struct load_job *j)
{
	int fd = open(j->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		j->rc = -errno;
		snprintf(j->err, sizeof(j->err),
			 "cannot enter its network namespace: %s",
			 strerror(-j->rc));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	j->rc = net__nft_run_once(j->text, j->err, sizeof(j->err));
	if (j->rc == -ENOMEM)
		return;
	if (j->rc == 0 && j->n_inodes) {
		struct net__net w = {.inodes = j->inodes,
				     .n_inodes = j->n_inodes};
		j->rc = net__ingress_ns_routes(&w, j->ifname, j->err,
					       sizeof(j->err));
	}
}

static void *worker(void *arg)
{
	struct net__loader *l = arg;
	/* The node's namespace, entered again after every job: a thread
	 * left in a container's namespace would keep it (and its veth)
	 * alive after the container is gone. */
	int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->stop && (l->paused || list_empty(&l->queue)))
			pthread_cond_wait(&l->cond, &l->mu);
		if (l->stop)
			break;
		struct load_job *j =
			list_entry(l->queue.next, struct load_job, node);
		list_remove(&j->node);
		l->running = j;
		pthread_mutex_unlock(&l->mu);
		if (home < 0) {
			/* Entering a container's namespace for good would
			 * be worse than not loading: refused. */
			j->rc = -EBADF;
			snprintf(j->err, sizeof(j->err),
				 "the loader has lost the node's namespace");
		} else {
			run_job(j);
			if (setns(home, CLONE_NEWNET) < 0) {
				close(home);
				home = -1;
			}
		}
		pthread_mutex_lock(&l->mu);
		l->running = NULL;
		l->loads++;
		j->finished = true;
		if (j->wait)
			pthread_cond_broadcast(&l->finished);
		else
			list_push_back(&l->done, &j->node);
		uv_async_send(&l->async);
	}
	pthread_mutex_unlock(&l->mu);
	if (home >= 0)
		close(home);
	return NULL;
}

static void log_result(const struct load_job *j)
{
	if (j->rc == 0 || j->rc == -ENOENT)
		return; /* loaded, or the namespace is gone with its container
			 */
	log_warn("network=%s sandbox=%.12s: the VIP table is not loaded: %s",
		 j->net_name, j->sandbox,
		 j->rc == -ENOMEM ? "no memory"
		 : j->err[0]	  ? j->err
				  : strerror(-j->rc));
}

/* The lowest seq not done yet (queued or running); UINT64_MAX: idle. */
static uint64_t pending_min(struct net__loader *l)
{
	uint64_t min = l->running ? l->running->seq : UINT64_MAX;
	struct list_node *p;

	list_for_each(p, &l->queue)
	{
		struct load_job *j = list_entry(p, struct load_job, node);
		if (j->seq < min)
			min = j->seq;
	}
	return min;
}

/* On the loop: log what finished, run the barriers now passed. */
static void on_async(uv_async_t *a)
{
	struct net__loader *l = a->data;
	struct list_node done, *p, *tmp;
	uint64_t min;

	list_init(&done);
	pthread_mutex_lock(&l->mu);
	while (!list_empty(&l->done)) {
		p = l->done.next;
		list_remove(p);
		list_push_back(&done, p);
	}
	min = pending_min(l);
	pthread_mutex_unlock(&l->mu);
	list_for_each_safe(p, tmp, &done)
	{
		struct load_job *j = list_entry(p, struct load_job, node);
		list_remove(p);
		log_result(j);
		job_free(j);
	}
	list_for_each_safe(p, tmp, &l->barriers)
	{
		struct barrier *b = list_entry(p, struct barrier, node);
		if (b->seq >= min)
			continue;
		list_remove(p);
		b->cb(b->arg);
		shoal_free(b);
	}
}

static void loader_closed(uv_handle_t *h)
{
	struct net__loader *l = h->data;
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cond);
	pthread_cond_destroy(&l->finished);
	shoal_free(l);
}

static int loader_start(struct net *n)
{
	struct net__loader *l;
	int rc;

	if (n->loader)
		return 0;
	if (!(l = shoal_calloc(1, sizeof(*l))))
		return -ENOMEM;
	l->loop = n->loop;
	list_init(&l->queue);
	list_init(&l->done);
	list_init(&l->barriers);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cond, NULL);
	pthread_cond_init(&l->finished, NULL);
	if ((rc = uv_async_init(l->loop, &l->async, on_async)) < 0) {
		shoal_free(l);
		return rc;
	}
	l->async.data = l;
	if ((rc = -pthread_create(&l->thread, NULL, worker, l)) < 0) {
		uv_close((uv_handle_t *)&l->async, loader_closed);
		return rc;
	}
	n->loader = l;
	return 0;
}

void net__loader_close(struct net *n)
{
	struct net__loader *l = n->loader;
	struct list_node *p, *tmp;

	if (!l)
		return;
	n->loader = NULL;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	/* What is still queued is dropped: the next start loads every
	 * namespace again (vips_set is false then). */
	list_for_each_safe(p, tmp, &l->queue)
	{
		list_remove(p);
		job_free(list_entry(p, struct load_job, node));
	}
	list_for_each_safe(p, tmp, &l->done)
	{
		struct load_job *j = list_entry(p, struct load_job, node);
		list_remove(p);
		log_result(j);
		job_free(j);
	}
	/* Every barrier runs exactly once: nothing more will be loaded. */
	list_for_each_safe(p, tmp, &l->barriers)
	{
		struct barrier *b = list_entry(p, struct barrier, node);
		list_remove(p);
		b->cb(b->arg);
		shoal_free(b);
	}
	uv_close((uv_handle_t *)&l->async, loader_closed);
}

/* The queued job of the same namespace and network, or NULL. */
static struct load_job *queued(struct net__loader *l, const char *path,
			       const char *net_id)
{
	struct list_node *p;
	list_for_each(p, &l->queue)
	{
		struct load_job *j = list_entry(p, struct load_job, node);
		if (!strcmp(j->path, path) && !strcmp(j->net_id, net_id))
			return j;
	}
	return NULL;
}

int net__ns_load(struct net *n, const struct net__net *w,
		 const struct net__ep *ep, const char *path, const char *text,
		 bool wait)
{
	struct load_job *j, *old;
	struct net__loader *l;
	int rc;

	if (!n->loop) {
		char err[256];
		rc = net__nft_text_in(path, text, w, ep->ifname, err,
				      sizeof(err));
		if (rc < 0 && rc != -ENOENT)
			log_warn("network=%s sandbox=%.12s: the VIP table is "
				 "not loaded: %s",
				 w->name, ep->sandbox, err);
		return rc;
	}
	if ((rc = loader_start(n)) < 0)
		return rc;
	l = n->loader;
	if (!(j = shoal_calloc(1, sizeof(*j))) ||
	    !(j->text = shoal_strdup(text)) ||
	    (w->n_inodes &&
	     !(j->inodes = shoal_calloc(w->n_inodes, sizeof(uint32_t))))) {
		if (j)
			job_free(j);
		return -ENOMEM;
	}
	snprintf(j->path, sizeof(j->path), "%s", path);
	snprintf(j->net_id, sizeof(j->net_id), "%s", w->id);
	snprintf(j->net_name, sizeof(j->net_name), "%s", w->name);
	snprintf(j->sandbox, sizeof(j->sandbox), "%s", ep->sandbox);
	snprintf(j->ifname, sizeof(j->ifname), "%s", ep->ifname);
	if (w->n_inodes)
		memcpy(j->inodes, w->inodes, w->n_inodes * sizeof(uint32_t));
	j->n_inodes = w->n_inodes;
	j->wait = wait;
	pthread_mutex_lock(&l->mu);
	j->seq = ++l->next_seq;
	old = queued(l, path, w->id);
	if (old && !wait) {
		/* Coalesced: the newest text in the older job's place. */
		char *t = old->text;
		uint32_t *in = old->inodes;
		old->text = j->text;
		old->inodes = j->inodes;
		old->n_inodes = j->n_inodes;
		j->text = t;
		j->inodes = in;
		pthread_mutex_unlock(&l->mu);
		job_free(j);
		return 0;
	}
	if (old) {
		/* Ours is newer and goes first: the older one is dropped,
		 * its seq taken over (a barrier waiting for it waits for
		 * ours). */
		list_remove(&old->node);
		j->seq = old->seq;
		job_free(old);
	}
	if (wait)
		list_push_front(&l->queue, &j->node);
	else
		list_push_back(&l->queue, &j->node);
	pthread_cond_signal(&l->cond);
	if (!wait) {
		pthread_mutex_unlock(&l->mu);
		return 0;
	}
	while (!j->finished)
		pthread_cond_wait(&l->finished, &l->mu);
	pthread_mutex_unlock(&l->mu);
	log_result(j);
	rc = j->rc;
	job_free(j);
	return rc;
}

int net_when_loaded(struct net *n, void (*cb)(void *), void *arg)
{
	struct net__loader *l = n ? n->loader : NULL;
	struct barrier *b;
	uint64_t min;

	if (!l) {
		cb(arg);
		return 0;
	}
	if (!(b = shoal_calloc(1, sizeof(*b))))
		return -ENOMEM;
	pthread_mutex_lock(&l->mu);
	b->seq = l->next_seq;
	min = pending_min(l);
	pthread_mutex_unlock(&l->mu);
	if (b->seq < min) {
		shoal_free(b);
		cb(arg);
		return 0;
	}
	b->cb = cb;
	b->arg = arg;
	list_push_back(&l->barriers, &b->node);
	return 0;
}

int net__loader_pause(struct net *n, bool paused)
{
	int rc = loader_start(n);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&n->loader->mu);
	n->loader->paused = paused;
	pthread_cond_signal(&n->loader->cond);
	pthread_mutex_unlock(&n->loader->mu);
	return 0;
}

uint64_t net__loader_loads(struct net *n)
{
	uint64_t v = 0;
	if (!n->loader)
		return 0;
	pthread_mutex_lock(&n->loader->mu);
	v = n->loader->loads;
	pthread_mutex_unlock(&n->loader->mu);
	return v;
}
