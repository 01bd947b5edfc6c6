/*
 * docker rename over the runtime's rt_container_rename(): Docker's checks
 * and words (moby daemon/rename.go), and the "rename" event with the old
 * name (with its leading '/', as Docker) as its oldName attribute.
 */
#define LOG_MODULE "engine"
#include "common/log.h"
#include "engine/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int eng_rename(struct eng *e, const char *id, const char *name,
	       struct shoal_err *err)
{
	struct eng_info info;
	char old[ENG_NAME_MAX + 2] = "";
	struct shoal_err re = {""};
	int rc;

	if (!name || !*name) {
		eng__err(err, "Neither old nor new names may be empty");
		return -EINVAL;
	}
	if (name[0] == '/')
		name++;
	rc = eng_inspect(e, id, &info);
	if (rc < 0)
		return SHOAL_ENOTFOUND;
	if (info.rt.name)
		snprintf(old, sizeof(old), "%s",
			 info.rt.name[0] == '/' ? info.rt.name + 1
						: info.rt.name);
	eng_info_fini(&info);
	if (!strcmp(old, name)) {
		eng__err(err, "Renaming a container with the same name as its "
			      "current name");
		return -EINVAL;
	}
	rc = rt_container_rename(e->rt, id, name, &re);
	if (rc < 0) {
		eng__err(err, "%s", re.msg[0] ? re.msg : shoal_strerror(rc));
		return rc == -EEXIST   ? SHOAL_ECONFLICT
		       : rc == -ENOENT ? SHOAL_ENOTFOUND
				       : rc;
	}
	log_info("container=%s renamed from %s to %s", id, old, name);
	eng_event_post_container(e, id, "rename",
				 json_pack("{s:s+}", "oldName", "/", old));
	return 0;
}
