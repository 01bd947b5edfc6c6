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
	size_t blob;  /* 0: the config, i: layer i-1 */
	size_t holder;
	size_t tries; /* holders tried for this blob */
	char last_err[1024];
	uv_work_t work;
	int work_rc;
	struct shoal_err work_err;
};

static void next_blob(struct imgfetch *f);

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
	f->o.done(rc, msg, f->o.arg);
	shoal_free(f);
}

static void assemble_work(uv_work_t *w)
{
	struct imgfetch *f = w->data;
	f->work_rc = img_blob_assemble(
		f->o.store, f->config, (const char *const *)f->paths,
		f->n_layers, f->has_tag ? f->tag : NULL, &f->work_err);
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

static void blob_done(int rc, const char *path, const char *msg, uint64_t got,
		      void *arg)
{
	struct imgfetch *f = arg;
	if (rc < 0) {
		snprintf(f->last_err, sizeof(f->last_err), "%s",
			 msg ? msg : shoal_strerror(rc));
		log_warn("image %s: %s", f->image_id, f->last_err);
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
	if (f->blob == 0) {
		snprintf(f->config, sizeof(f->config), "%s", path);
		struct shoal_err err = {0};
		int lrc = img_blob_config_layers(f->config, &f->diff_ids,
						 &f->n_layers, &err);
		if (lrc < 0) {
			char m[1200];
			snprintf(m, sizeof(m), "image %s: %s", f->image_id,
				 err.msg);
			end(f, lrc, m);
			return;
		}
		f->paths = shoal_calloc(f->n_layers ? f->n_layers : 1,
					sizeof(*f->paths));
		if (!f->paths) {
			end(f, -ENOMEM, "out of memory");
			return;
		}
	} else {
		f->paths[f->blob - 1] = shoal_strdup(path);
		if (!f->paths[f->blob - 1]) {
			unlink(path);
			end(f, -ENOMEM, "out of memory");
			return;
		}
	}
	f->blob++;
	f->tries = 0;
	next_blob(f);
}

static void next_blob(struct imgfetch *f)
{
	if (f->blob > f->n_layers) {
		if (f->o.progress) {
			char m[200];
			snprintf(m, sizeof(m), "assembling image %.19s",
				 f->image_id);
			f->o.progress(m, f->o.arg);
		}
		f->work.data = f;
		int rc = uv_queue_work(f->o.loop, &f->work, assemble_work,
				       assemble_done);
		if (rc < 0)
			end(f, rc, "cannot queue the image's assembly");
		return;
	}
	const char *digest =
		f->blob == 0 ? f->image_id : f->diff_ids[f->blob - 1];
	unsigned flags = f->blob == 0 ? 0 : BLOBSVC_LAYER;
	if (f->o.progress) {
		char m[300];
		if (f->blob == 0)
			snprintf(m, sizeof(m),
				 "fetching config of %.19s from %s",
				 f->image_id, f->names[f->holder]);
		else
			snprintf(m, sizeof(m), "fetching layer %zu/%zu from %s",
				 f->blob, f->n_layers, f->names[f->holder]);
		f->o.progress(m, f->o.arg);
	}
	int rc;
	f->cfg.peer_name = f->names[f->holder];
	if (f->o.dial) {
		int fd = f->o.dial(f->o.dial_arg, f->holder);
		rc = fd < 0 ? fd
			    : blobsvc_fetch_fd(f->o.loop, fd, &f->cfg,
					       f->o.store, digest, flags, 0,
					       blob_done, f);
	} else {
		rc = blobsvc_fetch_addr(
			f->o.loop,
			(const struct sockaddr *)&f->holders[f->holder],
			&f->cfg, f->o.store, digest, flags, 0, blob_done, f);
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
	next_blob(f);
	return 0;
}
