/*
 * Fetching a whole image from its holders: see worker/image_fetch.h.
 */
#define LOG_MODULE "imgfetch"

#include "worker/image_fetch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "image/blob.h"
#include "image/blob_assemble.h"
#include "worker/blob_service.h"

struct imgfetch {
	struct imgfetch_opts o;
	struct wire_chan_config cfg;
	struct sockaddr_storage holders[IMGFETCH_HOLDERS_MAX];
	char names[IMGFETCH_HOLDERS_MAX][64];
	char image_id[80];
	char tag[256];
	bool has_tag;
	char config[4096]; /* the fetched config's path */
	char **diff_ids;
	size_t n_layers;
	char **paths; /* fetched layer files */
	size_t blob;  /* 0: the config, then 1: the layers */
	size_t holder;
	size_t tries; /* holders tried for the config */
	size_t waits; /* refusals of the current holder waited out */
	/* The layers: up to @par fetched at once, layer i first from holder
	 * i mod n (so several holders serve one image), each moving to the
	 * next holder on a failure. The first layer that every holder
	 * failed fails the fetch once the layers in flight have ended. */
	struct layer_job *jobs;
	size_t next_layer, inflight, par;
	int fail_rc;
	char fail_msg[1400];
	bool starting;	     /* in start_layers(): a nested call only returns */
	uint64_t bytes_done; /* of the layers fetched */
	size_t layers_done;
	uv_timer_t tick; /* byte progress, once a second */
	bool tick_open;
	const char **digests; /* for the assembly: the jobs' blob digests */
	char last_err[1024];
	uv_work_t work;
	int work_rc;
	struct shoal_err work_err;
};

struct layer_job {
	struct imgfetch *f;
	size_t layer;
	size_t holder;
	size_t tries;
	bool active;		/* a fetch of it in flight */
	struct blobsvc_watch w; /* its bytes so far, its blob's digest */
};

/* A holder that refuses this node ("not allowed": the managers' new set
 * of its clients may not have reached it yet) is asked again this many
 * times, this far apart, before the next holder. */
#define IMGFETCH_WAITS 4
#define IMGFETCH_WAIT_MS 500

#define IMGFETCH_PAR_MIN 3 /* layers at once, as Docker pulls */
#define IMGFETCH_PAR_MAX 8

static void next_blob(struct imgfetch *f);
static void start_layers(struct imgfetch *f);
static void tick(uv_timer_t *t);

static void tick_closed(uv_handle_t *h)
{
	shoal_free(h->data);
}

static void end(struct imgfetch *f, int rc, const char *msg)
{
	if (f->config[0])
		unlink(f->config);
	for (size_t i = 0; f->paths && i < f->n_layers; i++) {
		if (f->paths[i]) {
			unlink(f->paths[i]);
			shoal_free(f->paths[i]);
		}
	}
	for (size_t i = 0; f->diff_ids && i < f->n_layers; i++)
		shoal_free(f->diff_ids[i]);
	shoal_free(f->diff_ids);
	shoal_free(f->paths);
	shoal_free(f->jobs);
	shoal_free(f->digests);
	f->o.done(rc, msg, f->o.arg);
	if (f->tick_open)
		uv_close((uv_handle_t *)&f->tick, tick_closed);
	else
		shoal_free(f);
}

static void assemble_work(uv_work_t *w)
{
	struct imgfetch *f = w->data;
	f->work_rc = img_blob_assemble_files(
		f->o.store, f->config, (const char *const *)f->paths,
		f->digests, f->n_layers, f->has_tag ? f->tag : NULL,
		&f->work_err);
}

static void assemble_done(uv_work_t *w, int status)
{
	struct imgfetch *f = w->data;
	char msg[1200];
	if (status < 0 || f->work_rc < 0) {
		snprintf(msg, sizeof(msg), "image %s fetched but refused: %s",
			 f->image_id,
			 status < 0 ? uv_strerror(status) : f->work_err.msg);
		end(f, status < 0 ? status : f->work_rc, msg);
		return;
	}
	end(f, 0, NULL);
}

static void retry_config(uv_timer_t *t)
{
	next_blob(t->data);
}

static void blob_done(int rc, const char *path, const char *msg, uint64_t got,
		      void *arg)
{
	struct imgfetch *f = arg;
	if (rc < 0) {
		snprintf(f->last_err, sizeof(f->last_err), "%s",
			 msg ? msg : shoal_strerror(rc));
		if (rc == -EACCES && f->tick_open &&
		    f->waits < IMGFETCH_WAITS) {
			f->waits++;
			char m[1200];
			snprintf(m, sizeof(m),
				 "waiting for holder %s to allow this node "
				 "(%zu/%d): %s",
				 f->names[f->holder], f->waits, IMGFETCH_WAITS,
				 f->last_err);
			log_info("image %s: %s", f->image_id, m);
			if (f->o.progress)
				f->o.progress(m, f->o.arg);
			uv_timer_start(&f->tick, retry_config, IMGFETCH_WAIT_MS,
				       0);
			return;
		}
		log_warn("image %s: %s", f->image_id, f->last_err);
		f->waits = 0;
		f->holder = (f->holder + 1) % f->o.n_holders;
		f->tries++;
		if (f->tries >= f->o.n_holders) {
			char m[1400];
			snprintf(m, sizeof(m),
				 "cannot fetch image %s from any of its %zu "
				 "holder(s); last: %s",
				 f->image_id, f->o.n_holders, f->last_err);
			end(f, rc, m);
			return;
		}
		next_blob(f);
		return;
	}
	(void)got;
	snprintf(f->config, sizeof(f->config), "%s", path);
	struct shoal_err err = {0};
	int lrc = img_blob_config_layers(f->config, &f->diff_ids, &f->n_layers,
					 &err);
	if (lrc < 0) {
		char m[1200];
		snprintf(m, sizeof(m), "image %s: %s", f->image_id, err.msg);
		end(f, lrc, m);
		return;
	}
	f->paths =
		shoal_calloc(f->n_layers ? f->n_layers : 1, sizeof(*f->paths));
	f->jobs = shoal_calloc(f->n_layers ? f->n_layers : 1, sizeof(*f->jobs));
	if (!f->paths || !f->jobs) {
		end(f, -ENOMEM, "out of memory");
		return;
	}
	f->blob = 1;
	f->tries = 0;
	if (f->o.progress && f->tick_open)
		uv_timer_start(&f->tick, tick, 250, 1000);
	start_layers(f);
}

/* 250 ms after the layers start, then once a second while they come
 * (a fetch shorter than a second still shows its bytes): the bytes so
 * far, e.g. "fetching image from node h1: 40 MB, 1/3 layers". */
static void tick(uv_timer_t *t)
{
	struct imgfetch *f = t->data;
	uint64_t got = f->bytes_done;
	const char *from = NULL;
	for (size_t i = 0; i < f->next_layer; i++) {
		if (!f->jobs[i].active)
			continue;
		got += f->jobs[i].w.received;
		from = from ? from : f->names[f->jobs[i].holder];
	}
	if (!from)
		return;
	char m[200];
	snprintf(m, sizeof(m),
		 "fetching image from node %.12s: %llu MB, "
		 "%zu/%zu layers",
		 from, (unsigned long long)(got >> 20), f->layers_done,
		 f->n_layers);
	f->o.progress(m, f->o.arg);
}

static void assemble(struct imgfetch *f)
{
	if (f->tick_open)
		uv_timer_stop(&f->tick);
	f->digests = shoal_calloc(f->n_layers ? f->n_layers : 1,
				  sizeof(*f->digests));
	for (size_t i = 0; f->digests && i < f->n_layers; i++)
		f->digests[i] = f->jobs[i].w.blob;
	if (f->o.progress) {
		char m[200];
		snprintf(m, sizeof(m), "assembling image %.19s", f->image_id);
		f->o.progress(m, f->o.arg);
	}
	f->work.data = f;
	int rc = uv_queue_work(f->o.loop, &f->work, assemble_work,
			       assemble_done);
	if (rc < 0)
		end(f, rc, "cannot queue the image's assembly");
}

static void layer_done(int rc, const char *path, const char *msg, uint64_t got,
		       void *arg);

static void launch(struct layer_job *j)
{
	struct imgfetch *f = j->f;
	if (f->o.progress) {
		char m[300];
		snprintf(m, sizeof(m), "fetching layer %zu/%zu from %s",
			 j->layer + 1, f->n_layers, f->names[j->holder]);
		f->o.progress(m, f->o.arg);
	}
	struct wire_chan_config cfg = f->cfg;
	cfg.peer_name = f->names[j->holder];
	const char *digest = f->diff_ids[j->layer];
	int rc;
	f->inflight++;
	j->active = true;
	j->w = (struct blobsvc_watch){0};
	if (f->o.dial) {
		int fd = f->o.dial(f->o.dial_arg, j->holder);
		rc = fd < 0 ? fd
			    : blobsvc_fetch_fd_watch(
				      f->o.loop, fd, &cfg, f->o.store, digest,
				      BLOBSVC_LAYER, 0, &j->w, layer_done, j);
	} else {
		rc = blobsvc_fetch_addr_watch(
			f->o.loop,
			(const struct sockaddr *)&f->holders[j->holder], &cfg,
			f->o.store, digest, BLOBSVC_LAYER, 0, &j->w, layer_done,
			j);
	}
	if (rc < 0) {
		char m[300];
		snprintf(m, sizeof(m), "cannot reach holder %s: %s",
			 f->names[j->holder], shoal_strerror(rc));
		layer_done(rc, NULL, m, 0, j);
	}
}

static void layer_done(int rc, const char *path, const char *msg, uint64_t got,
		       void *arg)
{
	struct layer_job *j = arg;
	struct imgfetch *f = j->f;
	f->inflight--;
	j->active = false;
	if (rc < 0) {
		snprintf(f->last_err, sizeof(f->last_err), "%s",
			 msg ? msg : shoal_strerror(rc));
		log_warn("image %s: %s", f->image_id, f->last_err);
		j->tries++;
		if (!f->fail_rc && j->tries < f->o.n_holders) {
			j->holder = (j->holder + 1) % f->o.n_holders;
			launch(j);
			return;
		}
		if (!f->fail_rc) {
			f->fail_rc = rc;
			snprintf(f->fail_msg, sizeof(f->fail_msg),
				 "cannot fetch image %s from any of its %zu "
				 "holder(s); last: %s",
				 f->image_id, f->o.n_holders, f->last_err);
		}
	} else {
		f->bytes_done += got;
		f->layers_done++;
		f->paths[j->layer] = shoal_strdup(path);
		if (!f->paths[j->layer]) {
			unlink(path);
			if (!f->fail_rc) {
				f->fail_rc = -ENOMEM;
				snprintf(f->fail_msg, sizeof(f->fail_msg),
					 "out of memory");
			}
		}
	}
	start_layers(f);
}

static void start_layers(struct imgfetch *f)
{
	if (f->starting)
		return; /* a launch that failed at once: the loop goes on */
	f->starting = true;
	while (!f->fail_rc && f->inflight < f->par &&
	       f->next_layer < f->n_layers) {
		struct layer_job *j = &f->jobs[f->next_layer];
		*j = (struct layer_job){.f = f,
					.layer = f->next_layer,
					.holder =
						f->next_layer % f->o.n_holders};
		f->next_layer++;
		launch(j);
	}
	f->starting = false;
	if (f->inflight)
		return;
	if (f->fail_rc)
		end(f, f->fail_rc, f->fail_msg);
	else if (f->next_layer == f->n_layers)
		assemble(f);
}

/* The config, from the current holder. */
static void next_blob(struct imgfetch *f)
{
	if (f->o.progress) {
		char m[300];
		snprintf(m, sizeof(m), "fetching config of %.19s from %s",
			 f->image_id, f->names[f->holder]);
		f->o.progress(m, f->o.arg);
	}
	int rc;
	f->cfg.peer_name = f->names[f->holder];
	if (f->o.dial) {
		int fd = f->o.dial(f->o.dial_arg, f->holder);
		rc = fd < 0 ? fd
			    : blobsvc_fetch_fd(f->o.loop, fd, &f->cfg,
					       f->o.store, f->image_id, 0, 0,
					       blob_done, f);
	} else {
		rc = blobsvc_fetch_addr(
			f->o.loop,
			(const struct sockaddr *)&f->holders[f->holder],
			&f->cfg, f->o.store, f->image_id, 0, 0, blob_done, f);
	}
	if (rc < 0) {
		char m[300];
		snprintf(m, sizeof(m), "cannot reach holder %s: %s",
			 f->names[f->holder], shoal_strerror(rc));
		blob_done(rc, NULL, m, 0, f);
	}
}

int imgfetch_start(const struct imgfetch_opts *o)
{
	if (!o->n_holders || o->n_holders > IMGFETCH_HOLDERS_MAX ||
	    !o->image_id || !o->done || !o->store || !o->loop ||
	    (!o->dial && !o->holders) ||
	    img_blob_digest_parse(o->image_id, strlen(o->image_id),
				  (char[65]){0}, NULL) < 0)
		return -EINVAL;
	if (o->tag && strlen(o->tag) >= sizeof(((struct imgfetch *)0)->tag))
		return -EINVAL;
	struct imgfetch *f = shoal_calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->o = *o;
	f->cfg = *o->cfg;
	snprintf(f->image_id, sizeof(f->image_id), "%s", o->image_id);
	f->o.image_id = f->image_id;
	if (o->tag) {
		snprintf(f->tag, sizeof(f->tag), "%s", o->tag);
		f->has_tag = true;
	}
	f->o.tag = NULL;
	f->o.cfg = NULL;
	f->o.holders = NULL;
	f->o.holder_names = NULL;
	for (size_t i = 0; i < o->n_holders; i++) {
		if (o->holders)
			f->holders[i] = o->holders[i];
		if (o->holder_names && o->holder_names[i])
			snprintf(f->names[i], sizeof(f->names[i]), "%s",
				 o->holder_names[i]);
		else
			snprintf(f->names[i], sizeof(f->names[i]), "holder %zu",
				 i + 1);
	}
	f->cfg.peer_name = NULL;
	/* The timer of the waits for a holder, then of the progress. */
	if (uv_timer_init(o->loop, &f->tick) == 0) {
		f->tick.data = f;
		f->tick_open = true;
	}
	f->par = o->n_holders < IMGFETCH_PAR_MIN   ? IMGFETCH_PAR_MIN
		 : o->n_holders > IMGFETCH_PAR_MAX ? IMGFETCH_PAR_MAX
						   : o->n_holders;
	next_blob(f);
	return 0;
}
