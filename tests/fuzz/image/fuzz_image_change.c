/*
 * Fuzz target: `docker import --change` lines (Dockerfile syntax). Each
 * line of the input is applied in turn to one container config, as a
 * request with several --change flags would be; the result must stay
 * serialisable JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	json_t *cc = json_object();
	struct shoal_err err;
	char *save;
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		img__change_apply(cc, line, &err);
	char *out = json_dumps(cc, JSON_COMPACT);
	free(out);
	json_decref(cc);
	free(text);
	return 0;
}
