/*
 * The agent's task set file (<data-root>/worker/tasks.json) as it is read
 * back at start-up: decoded, then each entry's task through wtask_decode,
 * as wexec_open() does.
 */
#include "common/alloc.h"
#include "common/jsonx.h"
#include "worker/exec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct wtask_node node = {"host", "linux", "x86_64"};
	struct shoal_err err = {""};
	json_t *a = NULL, *e;
	size_t i;
	if (wexec_store_decode(data, size, &a, &err) < 0)
		return 0;
	if (!json_is_array(a))
		abort();
	json_array_foreach(a, i, e)
	{
		char *text = jsonx_dump(jsonx_obj(e, "Task"), NULL);
		struct wtask *t = NULL;
		if (text &&
		    wtask_decode(text, strlen(text), &node, &t, &err) == 0)
			wtask_free(t);
		shoal_free(text);
	}
	json_decref(a);
	return 0;
}
