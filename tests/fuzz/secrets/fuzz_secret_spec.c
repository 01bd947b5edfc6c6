/*
 * A secret or config create body (Docker's SecretSpec / ConfigSpec) as a
 * manager checks it (secret_spec_check), for both tables. Accepted data is
 * never empty and always under the table's limit; a refusal always says
 * why.
 */
#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/secrets.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct secret_kind *kinds[] = {&secret_kind_secret,
					     &secret_kind_config};
	json_t *body = NULL;
	if (jsonx_parse_object((const char *)data, size, &body, NULL, 0) < 0)
		return 0;
	for (size_t k = 0; k < 2; k++) {
		uint8_t *d = NULL;
		size_t len = 0;
		char err[300] = "";
		int rc = secret_spec_check(kinds[k], body, &d, &len, err,
					   sizeof(err));
		if (rc == 0 && (!d || len == 0 || len >= kinds[k]->max))
			abort();
		if (rc == -EINVAL && !err[0])
			abort();
		if (rc < 0 && d)
			abort();
		shoal_free(d);
	}
	json_decref(body);
	return 0;
}
