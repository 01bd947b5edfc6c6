/*
 * docker push: send a local image to a registry (Docker Registry HTTP API
 * v2, the OCI distribution spec): each layer blob and the config, unless
 * the repository has it already (HEAD) or can mount it from another of
 * its repositories (POST .../blobs/uploads/?mount=&from=), then the image
 * manifest under the tag.
 *
 * The blobs are the store's own bytes, exactly as they were pulled, loaded
 * or made (compressed or not): nothing is recompressed, so a pushed
 * image's layer digests are the local ones and a pull by the pushed
 * digest gets the same image. The manifest is Docker's image manifest v2
 * schema 2, or an OCI image manifest when a layer has an OCI-only media
 * type (zstd, or one the store recorded as OCI).
 *
 * The blob files are opened under the store's lock and read after it is
 * released, so an image removed during its push still pushes whole.
 * Layers go five at a time, as Docker sends them (the pushing thread and
 * four more, each with its own connection); messages follow Docker's push
 * progress:
 * Preparing, Waiting, Pushing (bytes), Pushed, Layer already exists,
 * Mounted from <repository>. A layer's id in them is its DiffID's first 12
 * hex digits, as Docker shows it. The pushed digest joins the image's
 * RepoDigests, as a pull's does.
 */
#define LOG_MODULE "image"
#include "image/registry_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"

#define PROGRESS_STEP (512u * 1024)
#define PUSHES 5 /* layers sent at once, as Docker */
#define DOCKER_MT "application/vnd.docker."
#define MT_D_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_D_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_D_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define MT_O_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_O_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_O_LAYER "application/vnd.oci.image.layer.v1.tar"

struct push_blob {
	char hex[SHA256_HEX_LEN + 1];
	char id[13]; /* shown: the DiffID's (layers) */
	char *media_type;
	int fd;
	uint64_t size;
};

struct push {
	struct img_store *s;
	struct reg r;
	struct img_pull_opts ro; /* what struct reg reads */
	img_pull_msg_fn *msg;
	void *arg;
	struct shoal_err *err;
	char tag[129];
	struct push_blob config;
	struct push_blob *layers;
	size_t n_layers;
	json_t *mounts; /* other repositories of this registry with the image */
	bool oci;
	/* Parallel layers: the next to take (from the top), the first
	 * failure; under @lock, which also orders the messages. */
	pthread_mutex_t lock;
	size_t next;
	int rc;
	atomic_bool stop;
};

/* Any pusher's thread: one message at a time reaches p->msg. */
static void say(struct push *p, const char *status, const char *id,
		uint64_t cur, uint64_t total, bool detail)
{
	struct img_pull_msg m = {status, id ? id : "", cur, total, detail};
	if (!p->msg)
		return;
	pthread_mutex_lock(&p->lock);
	p->msg(&m, p->arg);
	pthread_mutex_unlock(&p->lock);
}

/* The local image --------------------------------------------------------- */

static int open_blob(struct img_store *s, const char *hex, struct push_blob *b)
{
	char *path = img__path(s->root, "blobs/sha256", hex);
	struct stat st;
	snprintf(b->hex, sizeof(b->hex), "%s", hex);
	b->fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	shoal_free(path);
	if (b->fd < 0 || fstat(b->fd, &st) < 0)
		return -errno;
	b->size = (uint64_t)st.st_size;
	return 0;
}

/* The media type to send for layer @b: the stored one, else sniffed. */
static int layer_type(struct push_blob *b, const char *stored)
{
	unsigned char m[4] = {0};
	const char *mt = stored;
	if (!mt && pread(b->fd, m, sizeof(m), 0) < 0)
		return -errno;
	if (!mt && m[0] == 0x1f && m[1] == 0x8b)
		mt = MT_D_LAYER ".gzip";
	else if (!mt && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f &&
		 m[3] == 0xfd)
		mt = MT_O_LAYER "+zstd";
	else if (!mt)
		mt = MT_D_LAYER;
	b->media_type = shoal_strdup(mt);
	return b->media_type ? 0 : -ENOMEM;
}

/* Other repositories of the target registry this image is tagged in:
 * where its blobs can be mounted from. Lock held. */
static void note_mounts(struct push *p, const char *hex)
{
	json_t *tags = img__tags_for(p->s, hex);
	p->mounts = json_array();
	for (size_t i = 0; p->mounts && i < json_array_size(tags); i++) {
		struct img_ref t;
		const char *name = json_string_value(json_array_get(tags, i));
		if (!name || img_ref_parse(name, &t, NULL) < 0 ||
		    strcmp(t.domain, p->r.ref.domain) ||
		    !strcmp(t.path, p->r.ref.path))
			continue;
		json_array_append_new(p->mounts, json_string(t.path));
	}
	json_decref(tags);
}

static int load_image(struct push *p, const char *local)
{
	const char *hex;
	int rc;
	pthread_mutex_lock(&p->s->lock);
	rc = img__find_image(p->s, local, &hex, NULL, NULL, p->err);
	if (rc == SHOAL_ENOTFOUND)
		rc = img__fail(p->err, SHOAL_ENOTFOUND,
			       "An image does not exist locally with the tag: "
			       "%s",
			       local);
	json_t *rec =
		rc == 0 ? json_object_get(
				  json_object_get(p->s->index, "images"), hex)
			: NULL;
	json_t *ls = json_object_get(rec, "layers");
	p->n_layers = json_array_size(ls);
	p->config.fd = -1;
	if (rc == 0) {
		p->layers = shoal_calloc(p->n_layers + 1, sizeof(*p->layers));
		rc = p->layers ? open_blob(p->s, hex, &p->config) : -ENOMEM;
	}
	for (size_t i = 0; p->layers && i < p->n_layers; i++)
		p->layers[i].fd = -1;
	for (size_t i = 0; rc == 0 && i < p->n_layers; i++) {
		json_t *l = json_array_get(ls, i);
		const char *blob = jsonx_str(l, "blob", "");
		const char *diff = jsonx_str(l, "diff_id", "");
		struct push_blob *b = &p->layers[i];
		snprintf(b->id, sizeof(b->id), "%.12s",
			 strlen(diff) > 7 ? diff + 7 : diff);
		rc = strlen(blob) > 7 ? open_blob(p->s, blob + 7, b) : -EIO;
		if (rc == 0)
			rc = layer_type(b, jsonx_str(l, "media_type", NULL));
		if (rc == 0 &&
		    strncmp(b->media_type, DOCKER_MT, strlen(DOCKER_MT)))
			p->oci = true;
	}
	if (rc == 0)
		note_mounts(p, hex);
	pthread_mutex_unlock(&p->s->lock);
	if (rc < 0 && !p->err->msg[0])
		img__fail(p->err, rc, "reading the local image %s: %s", local,
			  strerror(-rc));
	return rc;
}

/* Blobs ------------------------------------------------------------------- */

/*
 * One pusher: up to PUSHES of them (the pushing thread among them, on the
 * push's own connection; the others each with one of their own) take the
 * layers in order, top first, as Docker's five; the first failure stops
 * the others.
 */
struct pw {
	struct push *p;
	struct reg *r; /* w->r, or &own */
	struct reg own;
	struct shoal_err err;
	const char *cur_id;
	uint64_t last_report;
	pthread_t thread;
	bool running;
};

static void push_progress(struct reg_sink *k)
{
	struct pw *w = k->arg;
	if (k->sent < w->last_report + PROGRESS_STEP && k->sent < k->body_len)
		return;
	w->last_report = k->sent;
	say(w->p, "Pushing", w->cur_id, k->sent, k->body_len, true);
}

/* HEAD of the blob: 1 when the repository has it, 0 when not. */
static int blob_exists(struct pw *w, const struct push_blob *b)
{
	char path[100];
	struct reg_sink k;
	snprintf(path, sizeof(path), "/blobs/sha256:%s", b->hex);
	reg__sink_mem(&k);
	k.method = "HEAD";
	int rc = reg__request(w->r, path, &k, "blob");
	reg__sink_fini(&k);
	if (rc == SHOAL_ENOTFOUND) {
		w->err.msg[0] = '\0';
		return 0;
	}
	return rc < 0 ? rc : 1;
}

/*
 * POST an upload, as a mount from @from when given. 1 when the registry
 * mounted the blob; 0 with the upload's URL in @loc otherwise.
 */
static int start_upload(struct pw *w, const struct push_blob *b,
			const char *from, char *loc, size_t cap)
{
	char path[700];
	struct reg_sink k;
	if (from)
		snprintf(path, sizeof(path),
			 "/blobs/uploads/?mount=sha256:%s&from=%s", b->hex,
			 from);
	else
		snprintf(path, sizeof(path), "/blobs/uploads/");
	reg__sink_mem(&k);
	k.method = "POST";
	int rc = reg__request(w->r, path, &k, "blob upload");
	if (rc == 0 && k.status == 201 && from)
		rc = 1;
	else if (rc == 0 && !k.location[0])
		rc = img__fail(&w->err, -EPROTO,
			       "registry %s started an upload without a "
			       "Location",
			       w->r->host);
	else if (rc == 0)
		reg__url(w->r, k.location, loc, cap);
	reg__sink_fini(&k);
	return rc;
}

static int upload(struct pw *w, struct push_blob *b, const char *loc,
		  bool layer)
{
	char url[2700];
	struct reg_sink k;
	snprintf(url, sizeof(url), "%s%sdigest=sha256:%s", loc,
		 strchr(loc, '?') ? "&" : "?", b->hex);
	reg__sink_mem(&k);
	k.method = "PUT";
	k.req_ctype = "application/octet-stream";
	k.body_fd = b->fd;
	k.body_len = b->size;
	k.arg = w;
	k.stop = &w->p->stop;
	if (layer) {
		k.on_sent = push_progress;
		w->cur_id = b->id;
		w->last_report = 0;
	}
	int rc = reg__request(w->r, url, &k, "blob upload");
	if (rc == 0 && k.status != 201 && k.status != 204)
		rc = img__fail(&w->err, -EPROTO,
			       "registry %s answered the upload of "
			       "sha256:%.12s with %ld",
			       w->r->host, b->hex, k.status);
	reg__sink_fini(&k);
	return rc;
}

static int push_blob(struct pw *w, struct push_blob *b, bool layer)
{
	struct push *p = w->p;
	int rc = blob_exists(w, b);
	if (rc != 0) {
		if (rc > 0 && layer)
			say(p, "Layer already exists", b->id, 0, 0, true);
		return rc < 0 ? rc : 0;
	}
	char loc[2600];
	for (size_t i = 0; layer && i < json_array_size(p->mounts); i++) {
		const char *from =
			json_string_value(json_array_get(p->mounts, i));
		char scope[400];
		snprintf(scope, sizeof(scope), "repository:%s:pull", from);
		w->r->extra_scope = scope;
		rc = start_upload(w, b, from, loc, sizeof(loc));
		w->r->extra_scope = NULL;
		if (rc < 0)
			return rc;
		if (rc == 1) {
			char m[400];
			snprintf(m, sizeof(m), "Mounted from %s", from);
			say(p, m, b->id, 0, 0, true);
			return 0;
		}
		/* Not mounted: the answer is an upload to use. */
		rc = upload(w, b, loc, layer);
		if (rc == 0 && layer)
			say(p, "Pushed", b->id, 0, 0, true);
		return rc;
	}
	rc = start_upload(w, b, NULL, loc, sizeof(loc));
	if (rc == 0)
		rc = upload(w, b, loc, layer);
	if (rc == 0 && layer)
		say(p, "Pushed", b->id, 0, 0, true);
	return rc;
}

static void pw_failed(struct pw *w, int rc)
{
	struct push *p = w->p;
	pthread_mutex_lock(&p->lock);
	if (!p->rc && rc != -ECANCELED) {
		p->rc = rc;
		*p->err = w->err;
		atomic_store(&p->stop, true);
	}
	pthread_mutex_unlock(&p->lock);
}

static void *pw_run(void *arg)
{
	struct pw *w = arg;
	struct push *p = w->p;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		size_t i = p->rc || p->next == p->n_layers
				   ? SIZE_MAX
				   : p->n_layers - 1 - p->next++;
		pthread_mutex_unlock(&p->lock);
		if (i == SIZE_MAX)
			break;
		int rc = push_blob(w, &p->layers[i], true);
		if (rc < 0) {
			pw_failed(w, rc);
			break;
		}
	}
	return NULL;
}

/* The layers, PUSHES at a time, then the config on the push's thread. */
static int push_blobs(struct push *p)
{
	struct pw w[PUSHES] = {{0}};
	for (size_t i = 0; i < PUSHES; i++) {
		w[i].p = p;
		w[i].r = &p->r;
	}
	p->r.err = &w[0].err;
	for (size_t i = 1; i < PUSHES && i < p->n_layers; i++) {
		if (reg__clone(&w[i].own, &p->r, &w[i].err) < 0)
			break;
		w[i].r = &w[i].own;
		w[i].running =
			pthread_create(&w[i].thread, NULL, pw_run, &w[i]) == 0;
		if (!w[i].running) {
			reg__fini(&w[i].own);
			break;
		}
	}
	pw_run(&w[0]);
	for (size_t i = 1; i < PUSHES; i++) {
		if (w[i].running)
			pthread_join(w[i].thread, NULL);
		if (w[i].r == &w[i].own)
			reg__fini(&w[i].own);
	}
	int rc = p->rc;
	if (rc == 0) {
		rc = push_blob(&w[0], &p->config, false);
		if (rc < 0)
			*p->err = w[0].err;
	}
	p->r.err = p->err;
	return rc;
}

/* The manifest ------------------------------------------------------------ */

/* @mt in the manifest's family (Docker's and OCI's names of one type). */
static const char *family_type(const char *mt, bool oci)
{
	if (oci && !strcmp(mt, MT_D_LAYER))
		return MT_O_LAYER;
	if (oci && !strcmp(mt, MT_D_LAYER ".gzip"))
		return MT_O_LAYER "+gzip";
	return mt;
}

static json_t *descriptor(const char *mt, const struct push_blob *b)
{
	char d[DIGEST_STR_LEN];
	snprintf(d, sizeof(d), "sha256:%s", b->hex);
	return json_pack("{s:s,s:I,s:s}", "mediaType", mt, "size",
			 (json_int_t)b->size, "digest", d);
}

static char *manifest_text(struct push *p)
{
	json_t *layers = json_array();
	for (size_t i = 0; layers && i < p->n_layers; i++)
		if (json_array_append_new(
			    layers,
			    descriptor(family_type(p->layers[i].media_type,
						   p->oci),
				       &p->layers[i])) < 0) {
			json_decref(layers);
			return NULL;
		}
	json_t *m = json_pack(
		"{s:i,s:s,s:o,s:o}", "schemaVersion", 2, "mediaType",
		p->oci ? MT_O_MANIFEST : MT_D_MANIFEST, "config",
		descriptor(p->oci ? MT_O_CONFIG : MT_D_CONFIG, &p->config),
		"layers", layers);
	/* Docker's layout (three-space indent): the digest is of these
	 * bytes, whatever their layout. */
	char *text =
		m ? json_dumps(m, JSON_INDENT(3) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(m);
	return text;
}

static int put_manifest(struct push *p, char digest[DIGEST_STR_LEN],
			size_t *size)
{
	char *text = manifest_text(p);
	if (!text)
		return -ENOMEM;
	char path[200];
	struct reg_sink k;
	snprintf(path, sizeof(path), "/manifests/%s", p->tag);
	reg__sink_mem(&k);
	k.method = "PUT";
	k.req_ctype = p->oci ? MT_O_MANIFEST : MT_D_MANIFEST;
	k.body = text;
	k.body_len = strlen(text);
	*size = strlen(text);
	shoal_sha256_str(text, *size, digest);
	int rc = reg__request(&p->r, path, &k, "manifest");
	if (rc == 0 && k.dcd[0] && strcmp(k.dcd, digest))
		rc = img__fail(p->err, SHOAL_ECORRUPT,
			       "registry %s stored the manifest as %s, not %s",
			       p->r.host, k.dcd, digest);
	reg__sink_fini(&k);
	shoal_free(text);
	return rc;
}

/* The push ---------------------------------------------------------------- */

static int refused(struct push *p, int rc)
{
	if (rc != -EACCES)
		return rc;
	char msg[SHOAL_ERR_MAX];
	snprintf(msg, sizeof(msg), "%s", p->err->msg);
	return img__fail(p->err, -EACCES,
			 "denied: requested access to the resource is denied "
			 "(%s)",
			 msg);
}

static int run(struct push *p, const struct img_push_opts *o, json_t **result)
{
	struct img_ref ref;
	int rc = img_ref_parse(o->reference, &ref, p->err);
	if (rc == 0 && ref.digest[0])
		rc = img__fail(p->err, -EINVAL,
			       "cannot push a digest reference: %s: push a "
			       "tag",
			       o->reference);
	if (rc < 0)
		return rc;
	snprintf(p->tag, sizeof(p->tag), "%s", ref.tag);
	p->ro.auth = o->auth;
	p->ro.insecure = o->insecure;
	p->ro.n_insecure = o->n_insecure;
	p->ro.certs_dir = o->certs_dir;
	rc = reg__init(&p->r, &p->ro, &ref, p->err);
	if (rc < 0)
		return rc;
	p->r.actions = "pull,push";
	char msg[700];
	rc = load_image(p, o->reference);
	if (rc < 0)
		return rc;
	snprintf(msg, sizeof(msg), "The push refers to repository [%s/%s]",
		 ref.domain, ref.path);
	say(p, msg, NULL, 0, 0, false);
	/* Docker lists the top layer first. */
	for (size_t i = p->n_layers; i-- > 0;)
		say(p, "Preparing", p->layers[i].id, 0, 0, true);
	for (size_t k = PUSHES; k < p->n_layers; k++)
		say(p, "Waiting", p->layers[p->n_layers - 1 - k].id, 0, 0,
		    true);
	rc = reg__ping(&p->r);
	if (rc == 0)
		rc = push_blobs(p);
	char digest[DIGEST_STR_LEN];
	size_t size = 0;
	if (rc == 0)
		rc = put_manifest(p, digest, &size);
	if (rc < 0)
		return refused(p, rc);
	char fam[600], rd[700];
	img_ref_familiar(&ref, fam, sizeof(fam));
	snprintf(rd, sizeof(rd), "%s@%s", fam, digest);
	rc = img__add_repo_digest(p->s, p->config.hex, rd, p->err);
	if (rc < 0)
		return rc;
	*result =
		json_pack("{s:s,s:s,s:I,s:s}", "tag", p->tag, "digest", digest,
			  "size", (json_int_t)size, "id", p->config.hex);
	return *result ? 0 : -ENOMEM;
}

static void blob_close(struct push_blob *b)
{
	if (b->fd >= 0)
		close(b->fd);
	shoal_free(b->media_type);
}

int img_push(struct img_store *s, const struct img_push_opts *o,
	     img_pull_msg_fn *msg, void *arg, json_t **result,
	     struct shoal_err *err)
{
	struct shoal_err local;
	if (!err)
		err = &local;
	err->msg[0] = '\0';
	*result = NULL;
	struct push p = {.s = s, .msg = msg, .arg = arg, .err = err};
	p.config.fd = -1;
	pthread_mutex_init(&p.lock, NULL);
	int rc = run(&p, o, result);
	if (rc < 0)
		log_info("push of %s failed: %s", o->reference, err->msg);
	blob_close(&p.config);
	for (size_t i = 0; p.layers && i < p.n_layers; i++)
		blob_close(&p.layers[i]);
	shoal_free(p.layers);
	json_decref(p.mounts);
	pthread_mutex_destroy(&p.lock);
	reg__fini(&p.r);
	return rc;
}
