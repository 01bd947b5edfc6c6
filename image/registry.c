/*
 * docker pull: resolve a reference at a registry, fetch its manifest
 * (image manifest v2 schema 2 or OCI image manifest; through a manifest
 * list or OCI index, the host's platform chosen), then its config and
 * layer blobs into a staging folder of the store, each hashed as it
 * streams (an uncompressed layer by its early unpacker, reading it back)
 * and refused unless it matches its digest and size, and commit the image
 * through the store's loader (layers unpacked by the confined unpacker,
 * DiffIDs checked against the config, all or nothing).
 *
 * Layers are fetched three at a time, as Docker does: this worker thread
 * and two more, each with a connection of its own; the first failure
 * stops the others. Messages follow Docker's
 * pull progress: Pulling fs layer, Waiting, Downloading (bytes), Verifying
 * Checksum, Download complete, Extracting (bytes), Pull complete, or
 * Already exists for a layer blob the store holds.
 */
#define LOG_MODULE "image"
#include "image/registry_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/platform.h"

#define MT_SCHEMA1 "application/vnd.docker.distribution.manifest.v1"
#define ACCEPT                                                                 \
	"application/vnd.docker.distribution.manifest.v2+json, "               \
	"application/vnd.docker.distribution.manifest.list.v2+json, "          \
	"application/vnd.oci.image.manifest.v1+json, "                         \
	"application/vnd.oci.image.index.v1+json"
#define PROGRESS_STEP (512u * 1024)
#define DOWNLOADS 3 /* layers fetched at once, as Docker */

struct early_done {
	char *dir; /* <stage>/layers/.early-<blob hex>, or NULL */
	struct img__layer_result res;
};

struct pull {
	struct img_store *s;
	struct reg r;
	img_pull_msg_fn *msg;
	void *arg;
	struct shoal_err *err;
	char *stage;
	char digest[DIGEST_STR_LEN]; /* of the manifest the reference names */
	struct img__desc config;
	struct img__desc_list layers;
	bool *present; /* per layer: its blob was in the store */
	unsigned done_seen;
	/* Parallel downloads: the layers to fetch, the next one to take, the
	 * first failure; under @lock. @lock also orders the messages. */
	pthread_mutex_t lock;
	size_t *todo;
	size_t n_todo, next;
	int rc;
	atomic_bool stop;
	char want_os[32], want_arch[32], want_variant[32];
	bool explicit_platform;	  /* --platform given */
	bool from_list;		  /* the reference named a manifest list */
	struct early_done *early; /* per layer: unpacked while downloading */
	/* Phase ends (time_mono_ns()), for the debug line of a pull. */
	int64_t t_start, t_ping, t_manifest, t_config, t_layers, t_commit;
	int64_t t_xfer_max, t_unpack_wait; /* slowest transfer, unpack tail */
};

/* Any downloader's thread: one message at a time reaches p->msg. */
static void say(struct pull *p, const char *status, const char *id,
		uint64_t cur, uint64_t total, bool detail)
{
	struct img_pull_msg m = {status, id ? id : "", cur, total, detail};
	if (!p->msg)
		return;
	pthread_mutex_lock(&p->lock);
	p->msg(&m, p->arg);
	pthread_mutex_unlock(&p->lock);
}

static bool blob_present(struct img_store *s, const char *hex)
{
	char *path = img__path(s->root, "blobs/sha256", hex);
	bool ok = path && img__exists(path);
	shoal_free(path);
	return ok;
}

/* Manifests --------------------------------------------------------------- */

static int get_manifest(struct pull *p, const char *ref, struct reg_sink *k,
			const char *want)
{
	char path[300];
	snprintf(path, sizeof(path), "/manifests/%s", ref);
	reg__sink_mem(k);
	int rc = reg__get(&p->r, path, ACCEPT, k, "manifest");
	if (rc == SHOAL_ENOTFOUND) {
		char fam[600];
		img_ref_familiar(&p->r.ref, fam, sizeof(fam));
		return img__fail(p->err, SHOAL_ENOTFOUND,
				 "manifest for %s:%s not found: manifest "
				 "unknown",
				 fam, ref);
	}
	if (rc < 0)
		return rc;
	char d[DIGEST_STR_LEN];
	shoal_sha256_str(k->mem.data, k->mem.len, d);
	if (want && strcmp(d, want))
		return img__fail(p->err, SHOAL_ECORRUPT,
				 "manifest verification failed for digest "
				 "%s: the registry sent %s",
				 want, d);
	if (!p->digest[0])
		memcpy(p->digest, d, sizeof(d));
	if (!strncmp(k->ctype, MT_SCHEMA1, strlen(MT_SCHEMA1)) ||
	    strstr(k->mem.data ? k->mem.data : "", "\"schemaVersion\": 1") ||
	    strstr(k->mem.data ? k->mem.data : "", "\"schemaVersion\":1"))
		return img__fail(p->err, -EINVAL,
				 "image manifest schema 1 is not supported "
				 "(Docker removed it too): push the image "
				 "again with a current client");
	return 0;
}

static bool is_index(const struct reg_sink *k)
{
	if (img__media_is_index(k->ctype))
		return true;
	json_t *o = json_loadb(k->mem.data, k->mem.len, 0, NULL);
	bool idx = img__media_is_index(jsonx_str(o, "mediaType", NULL)) ||
		   (json_object_get(o, "manifests") &&
		    !json_object_get(o, "layers"));
	json_decref(o);
	return idx;
}

/* Docker's architecture names for the kernel's. */
static const char *arch_name(const char *a)
{
	if (!strcmp(a, "x86_64"))
		return "amd64";
	if (!strcmp(a, "aarch64"))
		return "arm64";
	return a;
}

/*
 * --platform "os[/arch[/variant]]" into p->want_*; the host's (linux and
 * its architecture) by default. Another platform is pulled and stored as
 * Docker does; running it here is the runtime's refusal.
 */
static int want_platform(struct pull *p, const char *platform)
{
	char buf[100];
	snprintf(p->want_os, sizeof(p->want_os), "linux");
	snprintf(p->want_arch, sizeof(p->want_arch), "%s", SHOAL_HOST_ARCH);
	p->want_variant[0] = '\0';
	if (!platform || !*platform)
		return 0;
	p->explicit_platform = true;
	bool ok = strlen(platform) < sizeof(buf);
	for (const char *c = platform; ok && *c; c++)
		ok = isalnum((unsigned char)*c) || strchr("._-/", *c);
	char *save = NULL, *os = NULL, *arch = NULL, *var = NULL;
	if (ok) {
		snprintf(buf, sizeof(buf), "%s", platform);
		for (char *c = buf; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		os = strtok_r(buf, "/", &save);
		arch = os ? strtok_r(NULL, "/", &save) : NULL;
		var = arch ? strtok_r(NULL, "/", &save) : NULL;
		ok = os && !strtok_r(NULL, "/", &save) &&
		     strlen(os) < sizeof(p->want_os) &&
		     (!arch || strlen(arch) < sizeof(p->want_arch)) &&
		     (!var || strlen(var) < sizeof(p->want_variant));
	}
	if (!ok)
		return img__fail(p->err, -EINVAL,
				 "invalid platform %s: expected "
				 "os[/arch[/variant]]",
				 platform);
	snprintf(p->want_os, sizeof(p->want_os), "%s", os);
	if (arch)
		snprintf(p->want_arch, sizeof(p->want_arch), "%s",
			 arch_name(arch));
	if (var)
		snprintf(p->want_variant, sizeof(p->want_variant), "%s", var);
	return 0;
}

static void want_str(const struct pull *p, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s%s%s", p->want_os, p->want_arch,
		 p->want_variant[0] ? "/" : "", p->want_variant);
}

static int pick_platform(struct pull *p, struct reg_sink *k, char *hex)
{
	struct img__desc_list l;
	char want[100];
	int rc = img__oci_index_parse(k->mem.data, k->mem.len, &l, p->err);
	if (rc < 0)
		return rc;
	want_str(p, want, sizeof(want));
	rc = img__fail(p->err, SHOAL_ENOTFOUND,
		       "no matching manifest for %s in the manifest list "
		       "entries",
		       want);
	for (size_t i = 0; i < l.n; i++) {
		const struct img__desc *d = &l.d[i];
		if (d->attestation || !d->os || strcmp(d->os, p->want_os) ||
		    !d->arch || strcmp(arch_name(d->arch), p->want_arch) ||
		    (p->want_variant[0] &&
		     (!d->variant || strcmp(d->variant, p->want_variant))) ||
		    img__media_is_index(d->media_type))
			continue;
		memcpy(hex, d->hex, SHA256_HEX_LEN + 1);
		p->err->msg[0] = '\0';
		rc = 0;
		break;
	}
	img__desc_list_clear(&l);
	return rc;
}

/* With --platform, a single image's config must say that platform (a list
 * entry chosen by its platform is taken at its word, as Docker does). */
static int check_platform(struct pull *p)
{
	if (!p->explicit_platform || p->from_list)
		return 0;
	/* Staged by this pull, or the store's when it had the image. */
	char *path =
		p->stage ? img__path(p->stage, "blobs", p->config.hex)
			 : img__path(p->s->root, "blobs/sha256", p->config.hex);
	char *data = NULL, want[100], have[200];
	size_t len;
	json_t *cfg = NULL;
	int rc = path ? img__read_file(path, IMG_JSON_MAX, &data, &len)
		      : -ENOMEM;
	shoal_free(path);
	if (rc == 0 && jsonx_parse_object(data, len, &cfg, NULL, 0) < 0)
		rc = img__fail(p->err, SHOAL_ECORRUPT,
			       "the image config is not JSON");
	shoal_free(data);
	if (rc < 0)
		return rc;
	const char *os = jsonx_str(cfg, "os", "");
	const char *arch = arch_name(jsonx_str(cfg, "architecture", ""));
	const char *var = jsonx_str(cfg, "variant", "");
	want_str(p, want, sizeof(want));
	snprintf(have, sizeof(have), "%s/%s%s%s", os, arch, *var ? "/" : "",
		 var);
	if (strcmp(os, p->want_os) || strcmp(arch, p->want_arch) ||
	    (p->want_variant[0] && strcmp(var, p->want_variant)))
		rc = img__fail(p->err, SHOAL_ENOTFOUND,
			       "image with reference %s was found but does "
			       "not match the specified platform: wanted %s, "
			       "actual: %s",
			       p->r.ref.path, want, have);
	json_decref(cfg);
	return rc;
}

static int resolve_manifest(struct pull *p)
{
	struct reg_sink k;
	const char *ref = p->r.ref.digest[0] ? p->r.ref.digest : p->r.ref.tag;
	int rc = get_manifest(p, ref, &k,
			      p->r.ref.digest[0] ? p->r.ref.digest : NULL);
	if (rc == 0 && is_index(&k)) {
		char hex[SHA256_HEX_LEN + 1], d[DIGEST_STR_LEN];
		p->from_list = true;
		rc = pick_platform(p, &k, hex);
		reg__sink_fini(&k);
		if (rc < 0)
			return rc;
		snprintf(d, sizeof(d), "sha256:%s", hex);
		rc = get_manifest(p, d, &k, d);
	}
	if (rc == 0)
		rc = img__oci_manifest_parse(k.mem.data, k.mem.len, &p->config,
					     &p->layers, p->err);
	reg__sink_fini(&k);
	if (rc == 0 && p->layers.n == 0)
		rc = img__fail(p->err, -EINVAL, "image manifest has no layers");
	return rc;
}

/* Blobs ------------------------------------------------------------------- */

/*
 * One downloader: the config's on the pull's own thread and connection,
 * then up to DOWNLOADS of them (the pull's thread among them), each with a
 * connection of its own, taking layers in order from p->todo.
 */
struct dl {
	struct pull *p;
	struct early *early; /* of the layer downloading, or NULL */
	struct reg *r;	     /* &p->r, or &own */
	struct reg own;
	struct shoal_err err;
	char id[13];
	uint64_t size;
	uint64_t last_report;
	pthread_t thread;
	bool running;
};

/*
 * A layer unpacked while it downloads. Its own thread reads the partial
 * blob file as the download writes it, through the same confined unpacker
 * as any layer, into <stage>/layers/.early-<hex>. The result is used only
 * when the whole blob then matched its digest and size; otherwise (and
 * when the download started over from zero, or the unpacker failed) the
 * folder is deleted and the commit unpacks the verified blob as before,
 * with its own messages. Nothing unpacked here reaches the store before
 * the blob is verified. Docker unpacks after the download; doing both at
 * once is what brings a big layer's pull near the raw transfer's time
 * (docs/images.md).
 *
 * For an uncompressed layer the same thread also computes the blob's
 * sha256 from the bytes it reads back (@hashing), every byte of the file
 * from 0 in order, and reads on to the end when the unpacker stops early:
 * the download's thread then only receives and writes, which is what
 * bounded a big layer's pull (the hash is a third of its CPU). A
 * compressed layer is hashed by the download as it arrives, since here the
 * decompression is the slower side. When this hash is not whole (the
 * download started over, a read failed), the blob is hashed from its file
 * after the download: the verification never depends on this thread.
 */
struct early {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t written; /* bytes of the partial file written so far */
	unsigned restarts;
	bool ended;   /* the download is complete */
	bool broken;  /* it failed or started over: stop reading */
	bool waiting; /* the reader waits for bytes past @wait_off */
	bool hashing; /* the reader hashes the blob (see above) */
	bool failed;  /* a read failed: @hash is not whole */
	int fd;	      /* the partial file, read side */
	uint64_t off; /* the reader's own */
	uint64_t wait_off;
	char *buf;
	char *dest;
	const char *hex;
	pthread_t thread;
	int rc;
	struct img__hash hash;
	struct img__layer_result res;
	struct shoal_err err;
};

#define EARLY_READ (1u << 20)
/* The reader is woken once this much is waiting, not for every write. */
#define EARLY_WAKE (EARLY_READ / 2)

static ssize_t early_read(void *arg, const void **buf)
{
	struct early *e = arg;
	pthread_mutex_lock(&e->mu);
	while (!e->broken && !e->ended && e->off == e->written) {
		e->waiting = true;
		e->wait_off = e->off;
		pthread_cond_wait(&e->cv, &e->mu);
	}
	e->waiting = false;
	bool broken = e->broken;
	uint64_t avail = e->written - e->off;
	pthread_mutex_unlock(&e->mu);
	if (broken)
		return -1;
	if (!avail)
		return 0;
	ssize_t n =
		pread(e->fd, e->buf, avail < EARLY_READ ? avail : EARLY_READ,
		      (off_t)e->off);
	if (n <= 0) {
		e->failed = true;
		return -1;
	}
	if (e->hashing)
		img__hash_update(&e->hash, e->buf, (size_t)n);
	e->off += (uint64_t)n;
	*buf = e->buf;
	return n;
}

static void *early_run(void *arg)
{
	struct early *e = arg;
	struct img__source src = {early_read, e};
	const void *b;
	e->rc = img__unpack_source(NULL, &src, e->hex, e->dest, &e->res, NULL,
				   NULL, NULL, &e->err);
	/* The unpacker stopped before the end: the hash still needs it all. */
	while (e->hashing && early_read(e, &b) > 0)
		;
	return NULL;
}

static void early_free(struct early *e)
{
	if (e->fd >= 0)
		close(e->fd);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	img__hash_free(&e->hash);
	shoal_free(e->buf);
	shoal_free(e->dest);
	shoal_free(e);
}

/* An uncompressed tar layer (docker's rootfs.diff.tar, OCI's v1.tar). */
static bool plain_tar(const char *media_type)
{
	size_t n = media_type ? strlen(media_type) : 0;
	return n > 4 && !strcmp(media_type + n - 4, ".tar");
}

/* NULL when it cannot start: the commit then unpacks as usual. */
static struct early *early_start(struct pull *p, const struct img__desc *d,
				 const char *part)
{
	struct early *e = shoal_calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	char name[SHA256_HEX_LEN + 8];
	snprintf(name, sizeof(name), ".early-%s", d->hex);
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->hex = d->hex;
	e->hashing = plain_tar(d->media_type);
	e->fd = open(part, O_RDONLY | O_CLOEXEC);
	e->buf = shoal_malloc(EARLY_READ);
	e->dest = img__path(p->stage, "layers", name);
	if (e->fd < 0 || !e->buf || !e->dest ||
	    (e->hashing && img__hash_init(&e->hash) < 0) ||
	    pthread_create(&e->thread, NULL, early_run, e) != 0) {
		early_free(e);
		return NULL;
	}
	return e;
}

static void early_feed(struct early *e, const struct reg_sink *k)
{
	pthread_mutex_lock(&e->mu);
	if (k->restarts != e->restarts)
		e->broken = true;
	e->written = k->got;
	if (e->waiting && (e->broken || e->written - e->wait_off >= EARLY_WAKE))
		pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

/* The download is over (@ok: whole): the reader finishes and ends. */
static void early_end(struct early *e, bool ok)
{
	pthread_mutex_lock(&e->mu);
	if (ok)
		e->ended = true;
	else
		e->broken = true;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
	pthread_join(e->thread, NULL);
}

/* The reader's sha256 of the blob's @size bytes, when it has them all. */
static bool early_hash(struct early *e, uint64_t size,
		       char hex[SHA256_HEX_LEN + 1])
{
	if (!e || !e->hashing || e->broken || e->failed || e->off != size)
		return false;
	img__hash_hex(&e->hash, hex);
	return true;
}

/* Keeps the unpacked folder in @out when @ok and it succeeded; frees. */
static void early_finish(struct early *e, bool ok, struct early_done *out)
{
	if (!e)
		return;
	if (ok && e->rc == 0) {
		out->dir = e->dest;
		out->res = e->res;
		e->dest = NULL;
	} else {
		img__rmrf(e->dest);
	}
	early_free(e);
}

static void dl_progress(struct reg_sink *k)
{
	struct dl *w = k->arg;
	if (w->early)
		early_feed(w->early, k);
	if (k->got < w->last_report + PROGRESS_STEP && k->got < w->size)
		return;
	w->last_report = k->got;
	say(w->p, "Downloading", w->id, k->got, w->size, true);
}

static int blob_open(struct dl *w, const char *part, struct reg_sink *k)
{
	k->fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (k->fd < 0)
		return img__fail(&w->err, -errno, "staging blob: %s",
				 strerror(errno));
	return 0;
}

/* The sha256 of the staged blob's file, when no one hashed it whole. */
static int hash_file(struct dl *w, const char *part,
		     char hex[SHA256_HEX_LEN + 1])
{
	struct img__hash h;
	ssize_t n;
	char *buf = shoal_malloc(EARLY_READ);
	if (!buf || img__hash_init(&h) < 0) {
		shoal_free(buf);
		return img__fail(&w->err, -ENOMEM, "out of memory");
	}
	int fd = open(part, O_RDONLY | O_CLOEXEC);
	int rc = fd < 0 ? -errno : 0;
	while (rc == 0 && (n = read(fd, buf, EARLY_READ)) != 0)
		if (n < 0)
			rc = -errno;
		else
			img__hash_update(&h, buf, (size_t)n);
	if (rc == 0)
		img__hash_hex(&h, hex);
	else
		img__hash_free(&h);
	if (fd >= 0)
		close(fd);
	shoal_free(buf);
	if (rc < 0)
		return img__fail(&w->err, rc, "reading the staged blob: %s",
				 strerror(-rc));
	return 0;
}

static int blob_check(struct dl *w, const struct img__desc *d,
		      const struct reg_sink *k, const char *hex)
{
	if (strcmp(hex, d->hex) || k->got != (uint64_t)d->size)
		return img__fail(&w->err, SHOAL_ECORRUPT,
				 "filesystem layer verification failed for "
				 "digest sha256:%s: the registry sent %llu "
				 "bytes hashing to sha256:%s",
				 d->hex, (unsigned long long)k->got, hex);
	return 0;
}

/*
 * The blob's sha256 after its download: the sink's, the early reader's,
 * or, when neither has it whole, its file's.
 */
static int blob_hash(struct dl *w, const char *part, struct reg_sink *k,
		     char hex[SHA256_HEX_LEN + 1])
{
	if (k->hash) {
		reg__hash_hex(k, hex);
		return 0;
	}
	if (early_hash(w->early, k->got, hex))
		return 0;
	return hash_file(w, part, hex);
}

/* The slowest layer's transfer, and its wait for the early unpacker. */
static void note_blob(struct pull *p, int64_t xfer, int64_t wait)
{
	pthread_mutex_lock(&p->lock);
	if (xfer > p->t_xfer_max) {
		p->t_xfer_max = xfer;
		p->t_unpack_wait = wait;
	}
	pthread_mutex_unlock(&p->lock);
}

/* The config (@i SIZE_MAX) or layer @i into <stage>/blobs/<hex>. */
static int fetch_blob(struct dl *w, const struct img__desc *d, size_t i)
{
	bool layer = i != SIZE_MAX;
	struct pull *p = w->p;
	char partname[SHA256_HEX_LEN + 10], hex[SHA256_HEX_LEN + 1];
	snprintf(partname, sizeof(partname), ".partial-%s", d->hex);
	char *path = img__path(p->stage, "blobs", d->hex);
	char *part = img__path(p->stage, "blobs", partname);
	struct reg_sink k;
	reg__sink_mem(&k);
	k.arg = w;
	k.stop = &p->stop;
	int rc = path && part ? blob_open(w, part, &k) : -ENOMEM;
	k.limit = (uint64_t)d->size;
	snprintf(w->id, sizeof(w->id), "%.12s", d->hex);
	w->size = (uint64_t)d->size;
	w->last_report = 0;
	if (layer) {
		k.on_progress = dl_progress;
		say(p, "Downloading", w->id, 0, w->size, true);
	}
	w->early = layer && rc == 0 ? early_start(p, d, part) : NULL;
	if (rc == 0 && !(w->early && w->early->hashing) &&
	    reg__hash_start(&k) < 0)
		rc = img__fail(&w->err, -ENOMEM, "out of memory");
	char url[100], what[120];
	snprintf(url, sizeof(url), "/blobs/sha256:%s", d->hex);
	snprintf(what, sizeof(what), "blob sha256:%.12s", d->hex);
	int64_t t0 = time_mono_ns();
	if (rc == 0)
		rc = reg__get(w->r, url, NULL, &k, what);
	int64_t t1 = time_mono_ns();
	if (rc == 0 && layer)
		say(p, "Verifying Checksum", w->id, 0, 0, true);
	if (w->early)
		early_end(w->early, rc == 0);
	if (rc == 0)
		rc = blob_hash(w, part, &k, hex);
	if (rc == 0)
		rc = blob_check(w, d, &k, hex);
	if (rc == 0)
		img__writeback(k.fd, &k.flushed, k.got, true);
	early_finish(w->early, rc == 0, layer ? &p->early[i] : NULL);
	w->early = NULL;
	if (layer)
		note_blob(p, t1 - t0, time_mono_ns() - t1);
	if (k.fd >= 0 && close(k.fd) < 0 && rc == 0)
		rc = img__fail(&w->err, -errno, "staging blob: %s",
			       strerror(errno));
	if (rc == 0 && rename(part, path) < 0)
		rc = img__fail(&w->err, -errno, "staging blob: %s",
			       strerror(errno));
	if (rc < 0 && part)
		unlink(part);
	if (rc == 0 && layer)
		say(p, "Download complete", w->id, 0, 0, true);
	reg__sink_fini(&k);
	shoal_free(path);
	shoal_free(part);
	return rc;
}

/* The first failure stops the other downloads and is the pull's error. */
static void dl_failed(struct dl *w, int rc)
{
	struct pull *p = w->p;
	pthread_mutex_lock(&p->lock);
	if (!p->rc && rc != -ECANCELED) {
		p->rc = rc;
		*p->err = w->err;
		atomic_store(&p->stop, true);
	}
	pthread_mutex_unlock(&p->lock);
}

static void *dl_run(void *arg)
{
	struct dl *w = arg;
	struct pull *p = w->p;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		size_t i = p->rc || p->next == p->n_todo ? SIZE_MAX
							 : p->todo[p->next++];
		pthread_mutex_unlock(&p->lock);
		if (i == SIZE_MAX)
			break;
		int rc = fetch_blob(w, &p->layers.d[i], i);
		if (rc < 0) {
			dl_failed(w, rc);
			break;
		}
	}
	return NULL;
}

/* Docker's first lines: each layer's state, then Waiting past the slots. */
static int plan_layers(struct pull *p)
{
	p->present = shoal_calloc(p->layers.n + 1, sizeof(bool));
	p->todo = shoal_calloc(p->layers.n + 1, sizeof(size_t));
	p->early = shoal_calloc(p->layers.n + 1, sizeof(*p->early));
	if (!p->present || !p->todo || !p->early)
		return -ENOMEM;
	for (size_t i = 0; i < p->layers.n; i++) {
		char id[13];
		bool dup = false;
		snprintf(id, sizeof(id), "%.12s", p->layers.d[i].hex);
		p->present[i] = blob_present(p->s, p->layers.d[i].hex);
		for (size_t j = 0; j < i; j++)
			dup |= !strcmp(p->layers.d[j].hex, p->layers.d[i].hex);
		if (!p->present[i] && !dup)
			p->todo[p->n_todo++] = i;
		say(p, p->present[i] ? "Already exists" : "Pulling fs layer",
		    id, 0, 0, true);
	}
	for (size_t k = DOWNLOADS; k < p->n_todo; k++) {
		char id[13];
		snprintf(id, sizeof(id), "%.12s", p->layers.d[p->todo[k]].hex);
		say(p, "Waiting", id, 0, 0, true);
	}
	return 0;
}

static int fetch_layers(struct pull *p)
{
	struct dl w[DOWNLOADS] = {{0}};
	int rc = plan_layers(p);
	for (size_t i = 0; i < DOWNLOADS; i++) {
		w[i].p = p;
		w[i].r = &p->r;
	}
	if (rc < 0)
		return rc;
	/* Until the joins, p->err is written only under p->lock. */
	p->r.err = &w[0].err;
	rc = fetch_blob(&w[0], &p->config, SIZE_MAX);
	p->t_config = time_mono_ns();
	if (rc == 0)
		rc = check_platform(p);
	if (rc < 0 && !w[0].err.msg[0])
		w[0].err = *p->err;
	if (rc < 0) {
		*p->err = w[0].err;
		p->r.err = p->err;
		return rc;
	}
	/* w[0] runs on this thread; the others each get a connection. */
	for (size_t i = 1; i < DOWNLOADS && i < p->n_todo; i++) {
		if (reg__clone(&w[i].own, &p->r, &w[i].err) < 0)
			break;
		w[i].r = &w[i].own;
		w[i].running =
			pthread_create(&w[i].thread, NULL, dl_run, &w[i]) == 0;
		if (!w[i].running) {
			reg__fini(&w[i].own);
			break;
		}
	}
	dl_run(&w[0]);
	for (size_t i = 1; i < DOWNLOADS; i++) {
		if (w[i].running)
			pthread_join(w[i].thread, NULL);
		if (w[i].r == &w[i].own)
			reg__fini(&w[i].own);
	}
	p->t_layers = time_mono_ns();
	p->r.err = p->err;
	return p->rc;
}

/* Commit ------------------------------------------------------------------ */

static void unpack_progress(const struct img_progress *ip, void *arg)
{
	struct pull *p = arg;
	size_t i = ip->layers_done;
	bool complete = ip->layers_done > p->done_seen;
	if (complete)
		i = ip->layers_done - 1;
	if (i >= p->layers.n)
		return;
	bool present = p->present[i];
	if (complete) {
		p->done_seen = ip->layers_done;
		if (!present)
			say(p, "Pull complete", ip->id, 0, 0, true);
		return;
	}
	if (!present)
		say(p, "Extracting", ip->id, ip->current, ip->total, true);
}

static int commit(struct pull *p, const char *tag_ref, json_t **loaded)
{
	struct img__plan plan = {0};
	memcpy(plan.config_hex, p->config.hex, sizeof(plan.config_hex));
	plan.layers = shoal_calloc(p->layers.n, sizeof(*plan.layers));
	plan.tags = shoal_calloc(2, sizeof(char *));
	int rc = plan.layers && plan.tags ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < p->layers.n; i++) {
		memcpy(plan.layers[i].blob_hex, p->layers.d[i].hex,
		       SHA256_HEX_LEN + 1);
		if (p->early[i].dir) {
			plan.layers[i].unpacked = p->early[i].dir;
			plan.layers[i].pre = p->early[i].res;
			p->early[i].dir = NULL;
		}
		if (p->layers.d[i].media_type) {
			plan.layers[i].media_type =
				shoal_strdup(p->layers.d[i].media_type);
			if (!plan.layers[i].media_type)
				rc = -ENOMEM;
		}
		plan.n_layers = i + 1;
	}
	if (rc == 0 && tag_ref) {
		plan.tags[0] = shoal_strdup(tag_ref);
		rc = plan.tags[0] ? 0 : -ENOMEM;
		plan.n_tags = 1;
	}
	if (rc == 0)
		rc = img__stage_and_commit(p->s, p->stage, &plan, 1,
					   unpack_progress, p, loaded, p->err);
	img__plan_clear(&plan);
	return rc;
}

static int tag_ref_of(struct pull *p, char *out, size_t cap)
{
	char fam[600], full[800];
	if (p->r.ref.digest[0] && !p->r.ref.tag[0])
		return 0;
	img_ref_familiar(&p->r.ref, fam, sizeof(fam));
	snprintf(full, sizeof(full), "%s:%s", fam, p->r.ref.tag);
	if (img__ref_normalize(full, out, cap) < 0)
		return img__fail(p->err, -EINVAL,
				 "invalid reference format: %s", full);
	return 1;
}

static json_t *result_of(struct pull *p, const char *tag, bool fresh)
{
	char fam[600], ref[900];
	img_ref_familiar(&p->r.ref, fam, sizeof(fam));
	if (tag)
		snprintf(ref, sizeof(ref), "%s", tag);
	else
		snprintf(ref, sizeof(ref), "%s@%s", fam, p->digest);
	return json_pack("{s:s+, s:s, s:s, s:b}", "id",
			 "sha256:", p->config.hex, "digest", p->digest, "ref",
			 ref, "new", fresh);
}

#define MS(a, b) ((double)((b) - (a)) / NSEC_PER_MSEC)

/* Where a pull's time went, for profiling (docs/images.md, Speed). */
static void log_timing(const struct pull *p)
{
	int64_t end = time_mono_ns();
	log_debug("pull of %s: %.1f ms: ping %.1f, manifest %.1f, config "
		  "%.1f, layers %.1f (slowest transfer %.1f, then its "
		  "unpack %.1f), commit %.1f, repo digest %.1f",
		  p->r.ref.path, MS(p->t_start, end), MS(p->t_start, p->t_ping),
		  MS(p->t_ping, p->t_manifest), MS(p->t_manifest, p->t_config),
		  MS(p->t_config, p->t_layers), MS(0, p->t_xfer_max),
		  MS(0, p->t_unpack_wait), MS(p->t_layers, p->t_commit),
		  MS(p->t_commit, end));
}

static int run(struct pull *p, const struct img_pull_opts *o, json_t **result)
{
	struct img_ref ref;
	char tag[700], fam[600];
	int rc = img_ref_parse(o->reference, &ref, p->err);
	if (rc == 0)
		rc = want_platform(p, o->platform);
	if (rc == 0)
		rc = reg__init(&p->r, o, &ref, p->err);
	if (rc < 0)
		return rc;
	img_ref_familiar(&ref, fam, sizeof(fam));
	char from[700];
	snprintf(from, sizeof(from), "Pulling from %s", ref.path);
	say(p, from, ref.tag[0] ? ref.tag : ref.digest, 0, 0, false);
	rc = tag_ref_of(p, tag, sizeof(tag));
	bool tagged = rc == 1;
	p->t_start = time_mono_ns();
	if (rc >= 0)
		rc = reg__ping(&p->r);
	p->t_ping = time_mono_ns();
	if (rc == 0)
		rc = resolve_manifest(p);
	p->t_manifest = time_mono_ns();
	if (rc < 0)
		return rc;
	char id[DIGEST_STR_LEN + 1];
	snprintf(id, sizeof(id), "sha256:%s", p->config.hex);
	struct img_image *have = NULL;
	bool fresh = img_resolve(p->s, id, &have, NULL) != 0;
	img_image_free(have);
	if (!fresh && (rc = check_platform(p)) < 0)
		return rc;
	if (!fresh) {
		for (size_t i = 0; i < p->layers.n; i++) {
			char lid[13];
			snprintf(lid, sizeof(lid), "%.12s", p->layers.d[i].hex);
			say(p, "Already exists", lid, 0, 0, true);
		}
		if (tagged)
			rc = img_tag(p->s, id, tag, p->err);
	} else {
		rc = img__stage_create(p->s, &p->stage);
		if (rc < 0)
			return img__fail(p->err, rc,
					 "creating a staging folder: %s",
					 strerror(-rc));
		rc = fetch_layers(p);
		json_t *loaded = NULL;
		if (rc == 0)
			rc = commit(p, tagged ? tag : NULL, &loaded);
		p->t_commit = time_mono_ns();
		json_decref(loaded);
	}
	char rd[700];
	snprintf(rd, sizeof(rd), "%s@%s", fam, p->digest);
	if (rc == 0)
		rc = img__add_repo_digest(p->s, p->config.hex, rd, p->err);
	if (rc < 0)
		return rc;
	if (fresh)
		log_timing(p);
	*result = result_of(p, tagged ? tag : NULL, fresh);
	return *result ? 0 : -ENOMEM;
}

int img__pull_one(struct img_store *s, const struct img_pull_opts *o,
		  img_pull_msg_fn *msg, void *arg, json_t **result,
		  struct shoal_err *err)
{
	*result = NULL;
	struct pull p = {.s = s, .msg = msg, .arg = arg, .err = err};
	pthread_mutex_init(&p.lock, NULL);
	int rc = run(&p, o, result);
	if (rc < 0)
		log_info("pull of %s failed: %s", o->reference, err->msg);
	if (p.stage) {
		img__rmrf(p.stage);
		shoal_free(p.stage);
	}
	for (size_t i = 0; p.early && i < p.layers.n; i++)
		shoal_free(p.early[i].dir);
	shoal_free(p.early);
	img__desc_clear(&p.config);
	img__desc_list_clear(&p.layers);
	shoal_free(p.present);
	shoal_free(p.todo);
	pthread_mutex_destroy(&p.lock);
	reg__fini(&p.r);
	return rc;
}
