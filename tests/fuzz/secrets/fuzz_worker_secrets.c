/*
 * One assignment item as the agent sorts it (wsecrets_item): a task, a
 * secret or config taken, a Kind ignored, or a refusal that says why and
 * takes nothing. The set is committed and freed each run.
 */
#include "worker/secrets.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wsecrets *w;
	struct shoal_err err = {""};
	if (wsecrets_new("/nonexistent", &w) < 0)
		return 0;
	wsecrets_begin(w);
	int rc = wsecrets_item(w, data, size, &err);
	if (rc < -1000 || rc > 1)
		abort();
	if (rc == -EINVAL && !err.msg[0])
		abort();
	wsecrets_commit(w);
	if (wsecrets_count(w) > 1 || (rc != 1 && wsecrets_count(w)))
		abort();
	wsecrets_free(w);
	return 0;
}
