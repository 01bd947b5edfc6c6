/*
 * Which nodes a task's node can fetch its image from: see
 * manager/image_holders.h. The leader only; built from the node objects'
 * "Images" reports (already checked when they were stored, node_images.c)
 * and their Status (State, Addr). Runs on the loop thread, inside the
 * orchestrator's push of assignment sets (orch_component.c).
 */
#define LOG_MODULE "orchestrator"
#include "manager/image_holders.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hnode {
	char id[STORE_ID_MAX + 1];
	char hostname[256];
	char addr[64];
	bool ready;
	json_t *images;	 /* the report's "Images" array (owned ref) */
	size_t *clients; /* indexes of the nodes that may fetch from it */
	size_t nclients, capclients;
};

struct mgr_holders {
	uint64_t gen;
	uint64_t fp;	     /* of everything below: a change makes all dirty */
	uint64_t clients_fp; /* of every node's clients, last computed */
	struct hnode *nodes;
	size_t n;
};

void mgr_holders_free(struct mgr_holders *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		json_decref(h->nodes[i].images);
		shoal_free(h->nodes[i].clients);
	}
	shoal_free(h->nodes);
	shoal_free(h);
}

static uint64_t mix(uint64_t h, const void *p, size_t len)
{
	return (h ^ orch__hash(p, len)) * 1099511628211ULL;
}

static int node_from(struct hnode *n, const struct store_object *o,
		     uint64_t *fp)
{
	json_t *st = mgr__obj_json(o->status, o->status_len);
	json_t *s = jsonx_obj(st, "Status");
	snprintf(n->id, sizeof(n->id), "%s", o->id);
	snprintf(n->hostname, sizeof(n->hostname), "%s",
		 jsonx_str(jsonx_obj(st, "Description"), "Hostname", ""));
	snprintf(n->addr, sizeof(n->addr), "%s", jsonx_str(s, "Addr", ""));
	n->ready = strcmp(jsonx_str(s, "State", ""), "ready") == 0;
	json_t *im = json_object_get(jsonx_obj(st, "Images"), "Images");
	n->images = json_is_array(im) ? json_incref(im) : NULL;
	size_t tl = 0;
	char *text = n->images ? jsonx_dump(n->images, &tl) : NULL;
	json_decref(st);
	if (n->images && !text)
		return -ENOMEM;
	*fp = mix(*fp, n->id, strlen(n->id));
	*fp = mix(*fp, n->addr, strlen(n->addr));
	*fp = mix(*fp, &n->ready, sizeof(n->ready));
	if (text)
		*fp = mix(*fp, text, tl);
	shoal_free(text);
	return 0;
}

int mgr_holders_update(struct mgr_holders **hp, const struct store *store,
		       uint64_t gen)
{
	if (*hp && (*hp)->gen == gen)
		return 0;
	const struct store_object **all;
	size_t n;
	if (store_list(store, STORE_NODES, &all, &n) < 0)
		return -ENOMEM;
	struct mgr_holders *h = shoal_calloc(1, sizeof(*h));
	h->nodes = h && n ? shoal_calloc(n, sizeof(*h->nodes)) : NULL;
	int rc = h && (h->nodes || !n) ? 0 : -ENOMEM;
	if (h)
		h->fp = 14695981039346656037ULL;
	for (size_t i = 0; rc == 0 && i < n; i++, h->n++)
		rc = node_from(&h->nodes[i], all[i], &h->fp);
	shoal_free(all);
	if (rc < 0) {
		mgr_holders_free(h);
		return rc;
	}
	h->gen = gen;
	h->clients_fp = *hp ? (*hp)->clients_fp : 0;
	bool changed = !*hp || (*hp)->fp != h->fp;
	mgr_holders_free(*hp);
	*hp = h;
	return changed;
}

/* ---- names ---- */

/* @in as Docker normalizes a name for comparison: the digest cut, the
 * default registry and library/ dropped, ":latest" added. */
static void norm_name(const char *in, char *out, size_t cap)
{
	static const char *const prefixes[] = {
		"docker.io/library/", "index.docker.io/library/", "docker.io/",
		"index.docker.io/"};
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", in);
	char *at = strchr(buf, '@');
	if (at)
		*at = '\0';
	const char *p = buf;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t l = strlen(prefixes[i]);
		if (strncmp(p, prefixes[i], l) == 0) {
			p += l;
			break;
		}
	}
	const char *slash = strrchr(p, '/');
	const char *seg = slash ? slash + 1 : p;
	snprintf(out, cap, "%s%s", p, strchr(seg, ':') ? "" : ":latest");
}

static bool is_hex(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

bool mgr_image_ref_matches(const char *ref, const char *id,
			   const char *const *tags, size_t ntags,
			   const char **tag)
{
	char want[600], have[600];
	*tag = NULL;
	if (!ref || !*ref || !id)
		return false;
	norm_name(ref, want, sizeof(want));
	for (size_t i = 0; i < ntags; i++) {
		norm_name(tags[i], have, sizeof(have));
		if (strcmp(want, have) == 0) {
			*tag = tags[i];
			return true;
		}
	}
	const char *hex = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
	size_t l = strlen(hex);
	return strncmp(id, "sha256:", 7) == 0 && is_hex(hex) && l >= 4 &&
	       strncmp(id + 7, hex, l) == 0;
}

/* Does @im (a report's image) match @ref? *@tag as above. */
static bool image_matches(const json_t *im, const char *ref, const char **tag)
{
	const char *tags[16];
	size_t n = 0, i;
	json_t *t;
	json_array_foreach(json_object_get(im, "RepoTags"), i, t)
	{
		if (n < 16 && json_is_string(t))
			tags[n++] = json_string_value(t);
	}
	return mgr_image_ref_matches(ref, jsonx_str(im, "Id", ""), tags, n,
				     tag);
}

static bool node_holds(const struct hnode *n, const char *ref)
{
	size_t i;
	json_t *im;
	const char *tag;
	json_array_foreach(n->images, i, im)
	{
		if (image_matches(im, ref, &tag))
			return true;
	}
	return false;
}

/* ---- the item ---- */

struct pick {
	const char *id;
	const char *tag;
	size_t count;
};

static bool holds_id(const struct hnode *n, const char *id)
{
	size_t i;
	json_t *im;
	json_array_foreach(n->images, i, im)
	{
		if (!strcmp(jsonx_str(im, "Id", ""), id))
			return true;
	}
	return false;
}

/* Can node @n serve the task of node @self? */
static bool may_serve(const struct hnode *n, const char *self)
{
	return n->ready && n->addr[0] && strcmp(n->id, self);
}

static size_t count_holders(const struct mgr_holders *h, const char *self,
			    const char *id)
{
	size_t c = 0;
	for (size_t i = 0; i < h->n; i++)
		c += may_serve(&h->nodes[i], self) &&
		     holds_id(&h->nodes[i], id);
	return c;
}

/* The image id the most ready nodes other than @self hold under @ref. */
static struct pick choose(const struct mgr_holders *h, const char *self,
			  const char *ref)
{
	struct pick best = {0};
	for (size_t i = 0; i < h->n; i++) {
		const struct hnode *n = &h->nodes[i];
		if (!may_serve(n, self))
			continue;
		size_t k;
		json_t *im;
		json_array_foreach(n->images, k, im)
		{
			struct pick c = {jsonx_str(im, "Id", ""), NULL, 0};
			if (!image_matches(im, ref, &c.tag))
				continue;
			c.count = count_holders(h, self, c.id);
			bool same = best.id && !strcmp(c.id, best.id);
			if (same && !best.tag)
				best.tag = c.tag; /* a node that has its tag */
			else if (c.count > best.count ||
				 (c.count == best.count && !same &&
				  strcmp(c.id, best.id) < 0))
				best = c;
		}
	}
	return best;
}

static json_t *holders_json(const struct mgr_holders *h, const char *self,
			    const char *ref, const struct pick *p)
{
	json_t *list = json_array();
	json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "Image", ref, "ID", p->id,
			      "Tag", p->tag ? p->tag : "", "Holders", list);
	if (!o)
		return NULL;
	for (size_t i = 0, k = 0; i < h->n && k < MGR_HOLDERS_MAX; i++) {
		const struct hnode *n = &h->nodes[i];
		if (!may_serve(n, self) || !holds_id(n, p->id))
			continue;
		char addr[96];
		snprintf(addr, sizeof(addr),
			 strchr(n->addr, ':') ? "[%s]:%d" : "%s:%d", n->addr,
			 MGR_BLOB_PORT);
		if (json_array_append_new(
			    list, json_pack("{s:s, s:s, s:s}", "NodeID", n->id,
					    "Hostname", n->hostname, "Addr",
					    addr)) < 0) {
			json_decref(o);
			return NULL;
		}
		k++;
	}
	return o;
}

/* The image a task's spec names, or NULL (owned). */
static char *spec_image(const struct orch_task *t)
{
	if (!t->spec_text)
		return NULL;
	json_t *sp = json_loads(t->spec_text, 0, NULL);
	const char *img =
		jsonx_str(jsonx_obj(sp, "ContainerSpec"), "Image", "");
	char *out = *img ? shoal_strdup(img) : NULL;
	json_decref(sp);
	return out;
}

static int add_field(char **j, size_t *len, const json_t *add)
{
	size_t tl, l = *len;
	char *text = jsonx_dump(add, &tl);
	if (!text)
		return -ENOMEM;
	while (tl && (text[tl - 1] == '\n' || text[tl - 1] == ' '))
		tl--;
	while (l && (*j)[l - 1] != '}')
		l--;
	static const char key[] = ",\"ImageHolders\":";
	char *out = l ? shoal_malloc(l + sizeof(key) + tl + 1) : NULL;
	if (!out) {
		shoal_free(text);
		return l ? -ENOMEM : 0;
	}
	size_t n = l - 1;
	memcpy(out, *j, n);
	memcpy(out + n, key, sizeof(key) - 1);
	n += sizeof(key) - 1;
	memcpy(out + n, text, tl);
	n += tl;
	out[n++] = '}';
	out[n] = '\0';
	shoal_free(text);
	shoal_free(*j);
	*j = out;
	*len = n;
	return 0;
}

/* Does node @node_id hold @ref by its report? */
static bool self_holds(const struct mgr_holders *h, const char *node_id,
		       const char *ref)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->nodes[i].id, node_id))
			return node_holds(&h->nodes[i], ref);
	return false;
}

int mgr_holders_annotate(const struct mgr_holders *h, const struct orch_task *t,
			 char **j, size_t *len)
{
	if (!h || t->state < TASK_ASSIGNED || t->state > TASK_PREPARING ||
	    t->desired > TASK_RUNNING)
		return 0;
	char *ref = spec_image(t);
	if (!ref || self_holds(h, t->node_id, ref)) {
		shoal_free(ref);
		return 0;
	}
	int rc = 0;
	struct pick p = choose(h, t->node_id, ref);
	if (p.id && p.count) {
		json_t *add = holders_json(h, t->node_id, ref, &p);
		rc = add ? add_field(j, len, add) : -ENOMEM;
		json_decref(add);
	}
	shoal_free(ref);
	return rc;
}

/* ---- who may fetch from whom ---- */

static struct hnode *find_node(struct mgr_holders *h, const char *id)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->nodes[i].id, id))
			return &h->nodes[i];
	return NULL;
}

static int add_client(struct hnode *n, size_t c)
{
	for (size_t i = 0; i < n->nclients; i++)
		if (n->clients[i] == c)
			return 0;
	if (n->nclients == n->capclients) {
		size_t cap = n->capclients ? 2 * n->capclients : 8;
		size_t *v = shoal_realloc(n->clients, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		n->clients = v;
		n->capclients = cap;
	}
	n->clients[n->nclients++] = c;
	return 0;
}

/* The holders of @ref chosen for node @self (as mgr_holders_annotate()
 * chooses them) get it as a client, unless it holds @ref itself. */
static int add_to_holders(struct mgr_holders *h, struct hnode *self,
			  const char *ref)
{
	if (node_holds(self, ref))
		return 0;
	struct pick p = choose(h, self->id, ref);
	int rc = 0;
	for (size_t i = 0, k = 0;
	     p.id && p.count && rc == 0 && i < h->n && k < MGR_HOLDERS_MAX;
	     i++) {
		struct hnode *n = &h->nodes[i];
		if (!may_serve(n, self->id) || !holds_id(n, p.id))
			continue;
		rc = add_client(n, (size_t)(self - h->nodes));
		k++;
	}
	return rc;
}

/* Task @t's node becomes a client of the holders its ImageHolders name.
 * @seen: the (node, image) pairs done in this pass (the tasks of a
 * service on one node ask the same), so each is chosen once. */
static int clients_of_task(struct mgr_holders *h, const struct orch_task *t,
			   struct hmap *seen)
{
	if (t->state < TASK_ASSIGNED || t->state > TASK_PREPARING ||
	    t->desired > TASK_RUNNING)
		return 0;
	struct hnode *self = find_node(h, t->node_id);
	if (!self || !self->ready)
		return 0; /* gone from the swarm, or down: fetches nothing */
	char *ref = spec_image(t);
	if (!ref)
		return 0;
	char key[STORE_ID_MAX + 1 + 512];
	int kl = snprintf(key, sizeof(key), "%s\n%s", t->node_id, ref);
	bool fits = kl > 0 && (size_t)kl < sizeof(key);
	int rc = 0;
	if (!fits || !hmap_has(seen, key, (size_t)kl)) {
		rc = fits ? hmap_put(seen, key, (size_t)kl, NULL, NULL) : 0;
		if (rc == 0)
			rc = add_to_holders(h, self, ref);
	}
	shoal_free(ref);
	return rc;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

int mgr_holders_clients(struct mgr_holders *h, const struct hmap *tasks)
{
	if (!h)
		return 0;
	for (size_t i = 0; i < h->n; i++)
		h->nodes[i].nclients = 0;
	size_t pos = 0, kl;
	const void *k;
	void *v;
	struct hmap seen = HMAP_INIT;
	while (hmap_next(tasks, &pos, &k, &kl, &v)) {
		if (clients_of_task(h, v, &seen) < 0) {
			hmap_fini(&seen);
			/* Nobody rather than some: computed again next push. */
			for (size_t i = 0; i < h->n; i++)
				h->nodes[i].nclients = 0;
			h->clients_fp = 0;
			return -ENOMEM;
		}
	}
	hmap_fini(&seen);
	uint64_t fp = 14695981039346656037ULL;
	for (size_t i = 0; i < h->n; i++) {
		struct hnode *n = &h->nodes[i];
		if (!n->nclients)
			continue;
		qsort(n->clients, n->nclients, sizeof(*n->clients), cmp_size);
		fp = mix(fp, n->id, strlen(n->id) + 1);
		for (size_t c = 0; c < n->nclients; c++) {
			const char *id = h->nodes[n->clients[c]].id;
			fp = mix(fp, id, strlen(id) + 1);
		}
	}
	bool changed = fp != h->clients_fp;
	h->clients_fp = fp;
	return changed;
}

int mgr_holders_clients_item(const struct mgr_holders *h, const char *node_id,
			     char **j, size_t *len)
{
	*j = NULL;
	*len = 0;
	const struct hnode *n =
		h ? find_node((struct mgr_holders *)h, node_id) : NULL;
	if (!n || !n->nclients)
		return 0;
	json_t *ids = json_array();
	json_t *o =
		json_pack("{s:s, s:o}", "Kind", "blob-clients", "Nodes", ids);
	for (size_t c = 0; o && c < n->nclients; c++)
		if (json_array_append_new(
			    ids, json_string(h->nodes[n->clients[c]].id)) < 0) {
			json_decref(o);
			o = NULL;
		}
	*j = o ? jsonx_dump(o, len) : NULL;
	json_decref(o);
	return *j ? 0 : -ENOMEM;
}
