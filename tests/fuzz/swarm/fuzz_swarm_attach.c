/*
 * An AttachNetwork as a node sends it to the leader (manager/attach.c,
 * mgr__attach_check()), against a store with an attachable overlay
 * ("front"), one that is not ("back") and the ingress network. Anything
 * is refused with a message, or names an attachable network that is not
 * the ingress one, with names the nodes' resolver accepts; the
 * attachment written for it (alloc_attach_spec()) is then valid JSON
 * naming that network and the sending node.
 */
#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/allocator.h"
#include "manager/internal.h"
#include "proto/swarm.pb-c.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *store;

static void net(struct store_batch *b, const char *id, const char *name,
		bool attachable, bool ingress)
{
	char spec[256];
	snprintf(spec, sizeof(spec),
		 "{\"Name\":\"%s\",\"Driver\":\"overlay\",\"Attachable\":%s,"
		 "\"Ingress\":%s,\"VNI\":4097}",
		 name, attachable ? "true" : "false",
		 ingress ? "true" : "false");
	if (store_batch_create(b, STORE_NETWORKS, id, name, spec, strlen(spec),
			       "{}", 2) < 0)
		abort();
}

static void setup(void)
{
	struct store_batch b;
	struct store_result res;
	uint8_t *d;
	size_t len;
	if (store_new(&store) < 0)
		abort();
	store_batch_init(&b, 1);
	net(&b, "nfront0000000000000000000", "front", true, false);
	net(&b, "nback00000000000000000000", "back", false, false);
	net(&b, "ningress00000000000000000", "ingress", true, true);
	if (store_batch_finish(&b, &d, &len) < 0 ||
	    store_apply(store, d, len, 1, &res) < 0)
		abort();
	shoal_free(d);
}

static bool dns_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 255 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!store)
		setup();
	Swarm__AttachNetwork *r =
		swarm__attach_network__unpack(NULL, size, data);
	if (!r)
		return 0;
	const struct store_object *n = NULL;
	char err[320] = "";
	int rc = mgr__attach_check(store, r, &n, err, sizeof(err));
	if (rc < 0) {
		if (!*err)
			abort(); /* refused without saying why */
		swarm__attach_network__free_unpacked(r, NULL);
		return 0;
	}
	if (!n || strcmp(n->name, "front") ||
	    r->n_names > ALLOC_ATTACH_NAMES_MAX)
		abort(); /* not attachable, or the ingress network */
	for (size_t i = 0; i < r->n_names; i++)
		if (!dns_ok(r->names[i]))
			abort();
	char *spec = NULL, *status = NULL;
	if (alloc_attach_spec("node1", n->id, r->container_id,
			      (const char *const *)r->names, r->n_names, 1,
			      &spec, &status) == 0) {
		json_t *sp = NULL;
		if (jsonx_parse(spec, strlen(spec), &sp, NULL, 0) < 0 ||
		    strcmp(jsonx_str(sp, "NodeID", ""), "node1") ||
		    *jsonx_str(sp, "ServiceID", "x") ||
		    strcmp(jsonx_str(
				   json_array_get(json_object_get(
							  jsonx_obj(sp, "Spec"),
							  "Networks"),
						  0),
				   "Target", ""),
			   n->id))
			abort();
		json_decref(sp);
	}
	shoal_free(spec);
	shoal_free(status);
	swarm__attach_network__free_unpacked(r, NULL);
	return 0;
}
