/*
 * The NodeSpec body of POST /nodes/{id}/update as the manager checks it:
 * parse, then mgr__validate_spec(). Anything is refused with a message or
 * accepted as a spec with a valid role, availability and string labels.
 */
#include "common/jsonx.h"
#include "manager/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *spec = NULL;
	char err[256];
	if (jsonx_parse_object((const char *)data, size, &spec, err,
			       sizeof(err)) < 0)
		return 0;
	if (mgr__validate_spec(spec, err, sizeof(err)) == 0) {
		const char *role = jsonx_str(spec, "Role", "");
		if (strcmp(role, "worker") && strcmp(role, "manager"))
			abort(); /* accepted a role it must refuse */
	}
	json_decref(spec);
	return 0;
}
