/*
 * Container prune (Docker's POST /containers/prune, moby daemon/prune.go):
 * every container that is not running, paused or waiting for a policy
 * restart, whose labels pass the label terms, created at or before
 * `until`. The space reported is what the removed containers' writable
 * layers held, measured just before each removal; a container whose
 * removal fails is neither listed nor counted.
 */
#define LOG_MODULE "engine"
#include "common/alloc.h"
#include "common/log.h"
#include "engine/internal.h"

#include <errno.h>
#include <string.h>

void eng_pruned_fini(struct eng_pruned *p)
{
	for (size_t i = 0; i < p->n; i++)
		shoal_free(p->names[i]);
	shoal_free(p->names);
	memset(p, 0, sizeof(*p));
}

/* Append @name to @p; -ENOMEM. */
int eng__pruned_add(struct eng_pruned *p, const char *name, uint64_t bytes)
{
	char **n = shoal_realloc(p->names, (p->n + 1) * sizeof(char *));

	if (!n)
		return -ENOMEM;
	p->names = n;
	p->names[p->n] = shoal_strdup(name);
	if (!p->names[p->n])
		return -ENOMEM;
	p->n++;
	p->space += bytes;
	return 0;
}

/* Whether container @id goes; its writable layer's size into @bytes. */
static bool prunable(struct eng *e, const char *id,
		     const struct eng_label_filter *labels, int64_t until_ns,
		     uint64_t *bytes)
{
	struct eng_info info;
	bool ok;

	if (eng_inspect(e, id, &info) < 0)
		return false;
	ok = !info.running &&
	     eng_labels_match(labels, json_object_get(info.record, "Labels")) &&
	     (until_ns == 0 || info.rt.created_ns <= until_ns);
	eng_info_fini(&info);
	if (ok && rt_container_rw_size(e->rt, id, bytes) < 0)
		*bytes = 0;
	return ok;
}

int eng_prune(struct eng *e, const struct eng_label_filter *labels,
	      int64_t until_ns, struct eng_pruned *out)
{
	char **ids;
	size_t n;
	int rc = rt_container_list(e->rt, &ids, &n);

	memset(out, 0, sizeof(*out));
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint64_t bytes = 0;
		if (!prunable(e, ids[i], labels, until_ns, &bytes))
			continue;
		if (eng_remove(e, ids[i], false, false) == 0)
			rc = eng__pruned_add(out, ids[i], bytes);
	}
	rt_list_free(ids, n);
	if (rc < 0)
		eng_pruned_fini(out);
	return rc;
}
