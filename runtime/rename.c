/*
 * rt_container_rename(): a container's new name (docker rename), in its
 * config.json and in the runtime's name index. config.json is replaced
 * whole (temporary file and rename), so a crash leaves the old name or the
 * new one; the index changes only after the file did. Nothing the
 * container sees depends on its name (the hostname is its own field), so
 * a running container is renamed in place, as with Docker.
 */
#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "runtime/internal.h"

int rt_container_rename(struct rt *rt, const char *id, const char *name,
			struct shoal_err *err)
{
	struct rt__ctr *k = hmap_get_str(&rt->by_id, id);
	struct rt__ctr *other;
	char *old, *json, *path, *copy;
	int rc;

	if (name[0] == '/')
		name++;
	if (!k)
		return -ENOENT;
	if (!rt_name_valid(name)) {
		rt__err(err,
			"Invalid container name (%s), only "
			"[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
			name);
		return -EINVAL;
	}
	other = hmap_get_str(&rt->by_name, name);
	if (other == k)
		return 0;
	if (other) {
		rt__err(err,
			"Conflict. The container name \"/%s\" is already in "
			"use by container \"%s\". You have to remove (or "
			"rename) that container to be able to reuse that "
			"name.",
			name, other->c->id);
		return -EEXIST;
	}
	copy = shoal_strdup(name);
	if (!copy)
		return -ENOMEM;
	old = k->c->name;
	k->c->name = copy;
	json = rt__config_to_json(k->c);
	path = rt__path("%s/%s", k->c->dir, RT_CONFIG_FILE);
	rc = json && path ? rt__write_atomic(path, json, strlen(json))
			  : -ENOMEM;
	shoal_free(json);
	shoal_free(path);
	if (rc == 0)
		rc = hmap_put_str(&rt->by_name, copy, k, NULL);
	if (rc < 0) {
		k->c->name = old;
		shoal_free(copy);
		rt__err(err, "cannot rename container %s: %s", id,
			strerror(-rc));
		return rc;
	}
	if (old)
		hmap_del_str(&rt->by_name, old);
	shoal_free(old);
	return 0;
}
