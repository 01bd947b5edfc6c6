/*
 * The secret and config items of a node's assignment set (contract §1,
 * docs/secrets.md): for every task of the set that may still run (desired
 * state up to running), each secret and config its ContainerSpec refers
 * to, once, as {"Kind": "secret"|"config", "ID", "Name", "Data": base64,
 * "Templating": "golang" when the object is a template}.
 * A node gets exactly the data of its own runnable tasks and nothing
 * else; when its last such task goes, the next set no longer carries it
 * and the agent forgets it.
 *
 * Called by the orchestrator's shell (orch_component.c) just before it
 * pushes a set. The data is read from the store at that moment, so a
 * rotation reaches the nodes with the tasks it rolls. Nothing is logged
 * here: the items carry secret data.
 */
#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/internal.h"
#include "manager/orch.h"
#include "manager/secrets.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

static bool may_run(const json_t *task)
{
	static const char *const states[] = {
		"new",	     "pending", "assigned", "accepted",
		"preparing", "ready",	"starting", "running"};
	const char *d = jsonx_str(task, "DesiredState", "");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (!strcmp(d, states[i]))
			return true;
	return false;
}

/* The item of object @o of @k (owned), NULL without memory. */
static char *item_of(const struct secret_kind *k, const struct store_object *o,
		     size_t *len)
{
	size_t cap = sodium_base64_encoded_len(o->status_len,
					       sodium_base64_VARIANT_ORIGINAL);
	char *b64 = shoal_malloc(cap);
	if (!b64)
		return NULL;
	sodium_bin2base64(b64, cap, o->status, o->status_len,
			  sodium_base64_VARIANT_ORIGINAL);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "Kind", k->word, "ID",
			      o->id, "Name", o->name, "Data", b64);
	json_t *spec = mgr__obj_json(o->spec, o->spec_len);
	const char *tpl = jsonx_str(jsonx_obj(spec, "Templating"), "Name", "");
	if (j && *tpl && jsonx_set(j, "Templating", json_string(tpl)) < 0) {
		json_decref(j);
		j = NULL;
	}
	json_decref(spec);
	sodium_memzero(b64, cap);
	shoal_free(b64);
	char *s = j ? jsonx_dump(j, len) : NULL;
	json_decref(j);
	return s;
}

static int push(struct mgr_item **items, size_t *n, size_t *cap, char *data,
		size_t len)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 16;
		struct mgr_item *a = shoal_realloc(*items, c * sizeof(*a));
		if (!a)
			return -ENOMEM;
		*items = a;
		*cap = c;
	}
	(*items)[(*n)++] = (struct mgr_item){data, len};
	return 0;
}

/* Whether object @id of @k already has an item among the @n first. */
static bool have(const struct mgr_item *items, size_t from, size_t n,
		 const char *word, const char *id)
{
	for (size_t i = from; i < n; i++) {
		json_t *j = NULL;
		if (jsonx_parse(items[i].data, items[i].len, &j, NULL, 0) < 0)
			continue;
		bool same = !strcmp(jsonx_str(j, "Kind", ""), word) &&
			    !strcmp(jsonx_str(j, "ID", ""), id);
		json_decref(j);
		if (same)
			return true;
	}
	return false;
}

static int add_refs(const struct store *s, const struct secret_kind *k,
		    const json_t *spec, struct mgr_item **items, size_t *n,
		    size_t *cap, size_t first)
{
	const char *idk = k->table == STORE_SECRETS ? "SecretID" : "ConfigID";
	size_t i;
	json_t *r;
	json_array_foreach((json_t *)secret_refs(k, spec), i, r)
	{
		const char *id = jsonx_str(r, idk, "");
		const struct store_object *o = store_get(s, k->table, id);
		if (!o || have(*items, first, *n, k->word, id))
			continue; /* a missing one: the task is rejected */
		size_t len;
		char *data = item_of(k, o, &len);
		if (!data || push(items, n, cap, data, len) < 0) {
			shoal_free(data);
			return -ENOMEM;
		}
	}
	return 0;
}

int orch_secrets_append(const struct store *s, struct mgr_item **items,
			size_t *n, size_t *cap)
{
	size_t tasks = *n;
	for (size_t i = 0; i < tasks; i++) {
		json_t *t = NULL;
		if (jsonx_parse((*items)[i].data, (*items)[i].len, &t, NULL,
				0) < 0)
			continue;
		int rc = 0;
		if (!*jsonx_str(t, "Kind", "") && may_run(t)) {
			const json_t *spec = jsonx_obj(t, "Spec");
			rc = add_refs(s, &secret_kind_secret, spec, items, n,
				      cap, tasks);
			if (rc == 0)
				rc = add_refs(s, &secret_kind_config, spec,
					      items, n, cap, tasks);
		}
		json_decref(t);
		if (rc < 0)
			return rc;
	}
	return 0;
}
