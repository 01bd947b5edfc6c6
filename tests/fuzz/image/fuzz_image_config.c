/*
 * Fuzz target: image configs (OCI image configuration / Docker image JSON)
 * as they arrive in an archive: parse and check, then build the runtime's
 * struct img_config view of an accepted one.
 */
#include <stddef.h>
#include <stdint.h>

#include "image/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shoal_err err;
	json_t *cfg;
	if (img__config_parse((const char *)data, size, &cfg, &err) < 0)
		return 0;
	struct img_config c;
	if (img__config_fill(cfg, &c) == 0)
		img__config_clear(&c);
	json_decref(cfg);
	return 0;
}
