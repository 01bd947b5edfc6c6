/*
 * Images fetched for this node's tasks: see worker/task_fetch.h.
 */
#define LOG_MODULE "agent"
#include "worker/task_fetch.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/jsonx.h"
#include "common/list.h"
#include "common/log.h"
#include "image/blob.h"
#include "image/registry.h"
#include "worker/image_fetch.h"
#include "worker/worker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_LEN 63
#define TAG_MAX_LEN 255

struct wfetch {
	struct wfetch_config cfg;
	struct list_node fetches;
	bool closing;
};

struct wentry {
	struct list_node node;
	struct wfetch *f;
	char id[512];	 /* the image id, or the reference pulled */
	int64_t said_ns; /* a pull's last progress message */
};

struct item {
	char id[80];
	char tag[TAG_MAX_LEN + 1];
	size_t n;
	struct sockaddr_storage addrs[IMGFETCH_HOLDERS_MAX];
	char names[IMGFETCH_HOLDERS_MAX][NAME_MAX_LEN + 1];
};

int wfetch_open(const struct wfetch_config *cfg, struct wfetch **out)
{
	struct wfetch *f = shoal_calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	list_init(&f->fetches);
	*out = f;
	return 0;
}

void wfetch_close(struct wfetch *f)
{
	if (!f)
		return;
	f->closing = true;
	if (list_empty(&f->fetches))
		shoal_free(f);
}

bool wfetch_has(struct wfetch *f, const char *ref)
{
	struct img_image *img = NULL;
	struct shoal_err err = {""};
	if (!ref || img_resolve(f->cfg.store, ref, &img, &err) < 0)
		return false;
	img_image_free(img);
	return true;
}

static struct wentry *find(const struct wfetch *f, const char *id)
{
	struct list_node *p;
	list_for_each(p, &f->fetches)
	{
		struct wentry *e = list_entry(p, struct wentry, node);
		if (!strcmp(e->id, id))
			return e;
	}
	return NULL;
}

bool wfetch_busy(const struct wfetch *f, const char *id)
{
	return find(f, id) != NULL;
}

/* ---- the item ---- */

/* Visible ASCII only: no space, no control byte. */
static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static int bad(struct shoal_err *err, const char *what)
{
	snprintf(err->msg, sizeof(err->msg),
		 "a malformed ImageHolders item: %s", what);
	return -EINVAL;
}

static int holder_from(const json_t *h, struct item *it, struct shoal_err *err)
{
	const char *addr = jsonx_str(h, "Addr", NULL);
	const char *name = jsonx_str(h, "Hostname", "");
	const char *node = jsonx_str(h, "NodeID", "");
	if (!json_is_object(h) || !addr)
		return bad(err, "a holder without Addr");
	if (agent_parse_addr(addr, &it->addrs[it->n]) < 0)
		return bad(err, "a holder's Addr is not ADDR:PORT");
	if (strlen(name) > NAME_MAX_LEN || strlen(node) > NAME_MAX_LEN ||
	    !printable(name) || !printable(node))
		return bad(err, "a holder's Hostname or NodeID");
	snprintf(it->names[it->n], sizeof(it->names[it->n]), "%s",
		 *name	 ? name
		 : *node ? node
			 : addr);
	it->n++;
	return 0;
}

static int item_parse(const json_t *ih, struct item *it, struct shoal_err *err)
{
	memset(it, 0, sizeof(*it));
	const char *id = jsonx_str(ih, "ID", "");
	const char *tag = jsonx_str(ih, "Tag", "");
	const json_t *hs = json_object_get(ih, "Holders");
	char hex[65];
	if (!json_is_object(ih))
		return bad(err, "not an object");
	if (strlen(id) >= sizeof(it->id) ||
	    img_blob_digest_parse(id, strlen(id), hex, NULL) < 0)
		return bad(err, "ID is not sha256:<64 hex digits>");
	if (strlen(tag) > TAG_MAX_LEN || !printable(tag))
		return bad(err, "Tag");
	if (!json_is_array(hs) || json_array_size(hs) == 0 ||
	    json_array_size(hs) > IMGFETCH_HOLDERS_MAX)
		return bad(err, "Holders must list 1 to 16 nodes");
	snprintf(it->id, sizeof(it->id), "%s", id);
	snprintf(it->tag, sizeof(it->tag), "%s", tag);
	size_t i;
	json_t *h;
	json_array_foreach(hs, i, h)
	{
		int rc = holder_from(h, it, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int wfetch_item_check(const json_t *ih, struct shoal_err *err)
{
	struct item *it = shoal_malloc(sizeof(*it));
	if (!it)
		return -ENOMEM;
	int rc = item_parse(ih, it, err);
	shoal_free(it);
	return rc;
}

int wfetch_have(struct wfetch *f, const json_t *ih, struct shoal_err *err)
{
	struct item *it = shoal_malloc(sizeof(*it));
	if (!it)
		return -ENOMEM;
	int rc = item_parse(ih, it, err);
	if (rc == 0 && wfetch_has(f, it->id)) {
		rc = it->tag[0] ? img_tag(f->cfg.store, it->id, it->tag, err)
				: 0;
		if (rc == 0)
			log_info("image %s is here: tagged %s", it->id,
				 it->tag);
		rc = rc < 0 ? rc : 1;
	}
	shoal_free(it);
	return rc;
}

/* ---- fetches ---- */

static void on_progress(const char *msg, void *arg)
{
	struct wentry *e = arg;
	struct wfetch *f = e->f;
	if (!f->closing && f->cfg.progress)
		f->cfg.progress(f->cfg.arg, e->id, msg);
}

static void on_done(int rc, const char *msg, void *arg)
{
	struct wentry *e = arg;
	struct wfetch *f = e->f;
	list_remove(&e->node);
	bool pull = strncmp(e->id, "sha256:", 7) != 0;
	if (rc < 0)
		log_warn("image %s not %s: %s", e->id,
			 pull ? "pulled" : "fetched",
			 msg ? msg : shoal_strerror(rc));
	else
		log_info("image %s %s", e->id,
			 pull ? "pulled from its registry"
			      : "fetched from the swarm");
	if (!f->closing && f->cfg.ended)
		f->cfg.ended(f->cfg.arg, e->id, rc, msg ? msg : "");
	shoal_free(e);
	if (f->closing && list_empty(&f->fetches))
		shoal_free(f);
}

static int start(struct wfetch *f, const struct item *it, struct shoal_err *err)
{
	struct wentry *e = shoal_calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->f = f;
	snprintf(e->id, sizeof(e->id), "%s", it->id);
	struct wire_chan_config cc = {
		.security = WIRE_SECURE,
		.root_pk = f->cfg.root_pk,
		.identity = f->cfg.identity,
		.cert = f->cfg.cert,
		.cert_len = *f->cfg.cert_len,
		.handshake_timeout_ms = 5000,
	};
	const char *names[IMGFETCH_HOLDERS_MAX];
	for (size_t i = 0; i < it->n; i++)
		names[i] = it->names[i];
	struct imgfetch_opts o = {
		.loop = f->cfg.loop,
		.store = f->cfg.store,
		.cfg = &cc,
		.holders = it->addrs,
		.holder_names = names,
		.n_holders = it->n,
		.image_id = it->id,
		.tag = it->tag[0] ? it->tag : NULL,
		.progress = on_progress,
		.done = on_done,
		.arg = e,
	};
	list_push_back(&f->fetches, &e->node);
	int rc = imgfetch_start(&o);
	if (rc < 0) {
		list_remove(&e->node);
		shoal_free(e);
		snprintf(err->msg, sizeof(err->msg),
			 "cannot fetch image %s from the swarm: %s", it->id,
			 shoal_strerror(rc));
		return rc;
	}
	log_info("image %s: fetching from %zu node(s), %s first", it->id, it->n,
		 it->names[0]);
	return 0;
}

/* ---- registries ---- */

bool wfetch_names_registry(const char *ref)
{
	const char *slash = ref ? strchr(ref, '/') : NULL;
	if (!slash)
		return false;
	size_t n = (size_t)(slash - ref);
	return memchr(ref, '.', n) || memchr(ref, ':', n) ||
	       (n == 9 && !strncmp(ref, "localhost", 9));
}

static void pull_msg(const struct img_pull_msg *m, void *arg)
{
	struct wentry *e = arg;
	struct wfetch *f = e->f;
	int64_t now = time_mono_ns();
	if (f->closing || !f->cfg.progress || !m->total ||
	    now - e->said_ns < NSEC_PER_SEC)
		return;
	e->said_ns = now;
	char msg[200];
	snprintf(msg, sizeof(msg), "pulling image: %s %llu of %llu MB",
		 m->status, (unsigned long long)(m->current >> 20),
		 (unsigned long long)(m->total >> 20));
	f->cfg.progress(f->cfg.arg, e->id, msg);
}

static void pull_done(int status, const char *errmsg, json_t *result, void *arg)
{
	(void)result;
	on_done(status < 0 ? status : 0,
		status < 0 ? (errmsg && *errmsg ? errmsg : "the pull failed")
			   : NULL,
		arg);
}

int wfetch_pull(struct wfetch *f, const char *ref, char *msg_out,
		struct shoal_err *err)
{
	if (!ref || strlen(ref) >= sizeof(((struct wentry *)0)->id)) {
		snprintf(err->msg, sizeof(err->msg), "image name too long");
		return -EINVAL;
	}
	snprintf(msg_out, 64, "pulling image %.40s", ref);
	if (find(f, ref))
		return 0;
	struct wentry *e = shoal_calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->f = f;
	snprintf(e->id, sizeof(e->id), "%s", ref);
	struct img_pull_opts o = {
		.reference = ref,
		.insecure = f->cfg.insecure,
		.n_insecure = f->cfg.n_insecure,
		.certs_dir = f->cfg.certs_dir,
	};
	list_push_back(&f->fetches, &e->node);
	int rc = img_pull_async(f->cfg.loop, f->cfg.store, &o, pull_msg,
				pull_done, e);
	if (rc < 0) {
		list_remove(&e->node);
		shoal_free(e);
		snprintf(err->msg, sizeof(err->msg), "cannot pull image %s: %s",
			 ref, shoal_strerror(rc));
		return rc;
	}
	log_info("image %s: no node holds it; pulling it from its registry",
		 ref);
	return 0;
}

int wfetch_want(struct wfetch *f, const json_t *ih, char *id_out, char *msg_out,
		struct shoal_err *err)
{
	struct item *it = shoal_malloc(sizeof(*it));
	if (!it)
		return -ENOMEM;
	int rc = item_parse(ih, it, err);
	if (rc == 0) {
		snprintf(id_out, 80, "%s", it->id);
		snprintf(msg_out, 64, "fetching image %.12s from node %.20s",
			 it->id + 7, it->names[0]);
		if (!find(f, it->id))
			rc = start(f, it, err);
	}
	shoal_free(it);
	return rc;
}
