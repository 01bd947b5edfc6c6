/*
 * An "ImageHolders" item from an assignment, parsed as JSON and checked as
 * the agent does before it fetches anything (wfetch_item_check()): it is
 * refused with a message, or accepted only with a sha256 id, 1 to 16
 * holders, each with an address.
 */
#include "common/jsonx.h"
#include "worker/task_fetch.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *o = NULL;
	char jerr[200];
	if (jsonx_parse((const char *)data, size, &o, jerr, sizeof(jerr)) < 0)
		return 0;
	struct shoal_err err = {""};
	int rc = wfetch_item_check(o, &err);
	if (rc == -EINVAL && !err.msg[0])
		abort(); /* refused without saying why */
	if (rc == 0) {
		const char *id = jsonx_str(o, "ID", "");
		size_t n = json_array_size(json_object_get(o, "Holders"));
		if (strncmp(id, "sha256:", 7) || strlen(id) != 71 || n < 1 ||
		    n > 16)
			abort();
	}
	json_decref(o);
	return 0;
}
