/*
 * A task status report as a node sends it (TaskStatusItem.status_json)
 * and the leader checks it (task_status_check()) against every stored
 * state. Anything is refused with a message, or accepted as a status that
 * moves the state forward (or repeats it with another message), keeps
 * only TaskStatus's fields, and checks again as a repeat only with a new
 * message.
 */
#include "common/jsonx.h"
#include "manager/service.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const allowed[] = {
	"Timestamp",	   "State",	 "Message", "Err",
	"ContainerStatus", "PortStatus", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int cur = TASK_NEW; cur < TASK_STATE_COUNT; cur++) {
		json_t *out = NULL;
		enum task_state st;
		char err[256] = "";
		int rc = task_status_check((const char *)data, size,
					   (enum task_state)cur, "", &out, &st,
					   err, sizeof(err));
		if (rc < 0) {
			if (!*err && rc != -ENOMEM)
				abort(); /* refused without saying why */
			continue;
		}
		if ((int)st < cur ||
		    task_state_terminal((enum task_state)cur) ||
		    st <= TASK_ASSIGNED)
			abort(); /* a state moved back or a managers' one */
		const char *k;
		json_t *v;
		json_object_foreach(out, k, v)
		{
			bool ok = false;
			for (const char *const *a = allowed; *a; a++)
				ok = ok || strcmp(*a, k) == 0;
			if (!ok)
				abort(); /* a field beyond TaskStatus kept */
		}
		json_decref(out);
	}
	return 0;
}
