/*
 * docker update: new resources for a container, live (the runtime's
 * rt_container_update()), and a new restart policy, kept in the record.
 * Docker's rules (moby daemon/update.go): a restart policy other than
 * "no" cannot be given to an --rm container; the caller's own view of the
 * container (the annotations: api/ keeps Docker's HostConfig there) gets
 * the fields that changed, so inspect shows them. Emits "update".
 */
#define LOG_MODULE "engine"
#include "common/jsonx.h"
#include "common/log.h"
#include "engine/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Merge @hc (borrowed) into Annotations.HostConfig of record @r. */
static int merge_host_config(json_t *r, const json_t *hc)
{
	json_t *ann = json_object_get(r, "Annotations");
	json_t *old;
	if (!hc || !json_is_object(ann))
		return 0;
	old = json_object_get(ann, "HostConfig");
	if (!json_is_object(old))
		return 0;
	return json_object_update(old, (json_t *)hc) < 0 ? -ENOMEM : 0;
}

int eng_update(struct eng *e, const char *id, const struct eng_update *u,
	       struct shoal_err *err)
{
	struct shoal_err re = {""};
	json_t *r = NULL;
	int rc = eng__record_load(e, id, &r);

	if (rc < 0) {
		eng__err(err, "No such container: %s", id);
		return SHOAL_ENOTFOUND;
	}
	if (u->restart_set && u->restart.kind != ENG_RESTART_NO &&
	    jsonx_bool(r, "AutoRemove", false)) {
		json_decref(r);
		eng__err(err, "Restart policy cannot be updated because "
			      "AutoRemove is enabled for the container");
		return -EINVAL;
	}
	rc = rt_container_update(e->rt, id, &u->rt, &re);
	if (rc < 0) {
		json_decref(r);
		eng__err(err, "Cannot update container %s: %s", id,
			 re.msg[0] ? re.msg : shoal_strerror(rc));
		return rc == -ENOENT ? SHOAL_ENOTFOUND : rc;
	}
	if (u->restart_set)
		rc = jsonx_set(r, "RestartPolicy",
			       json_pack("{s:s, s:i}", "Name",
					 eng_restart_name(u->restart.kind),
					 "MaximumRetryCount",
					 u->restart.max_retries));
	if (rc == 0)
		rc = merge_host_config(r, u->host_config);
	if (rc == 0)
		rc = eng__record_save(e, id, r);
	json_decref(r);
	if (rc < 0) {
		eng__err(err,
			 "Cannot update container %s: the limits apply but "
			 "its record could not be written: %s",
			 id, shoal_strerror(rc));
		return rc;
	}
	log_info("container=%s updated", id);
	eng_event_post_container(e, id, "update", NULL);
	return 0;
}
