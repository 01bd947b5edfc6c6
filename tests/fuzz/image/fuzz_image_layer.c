/*
 * Fuzz target: a layer archive as img_load() and img_import() unpack it
 * (any compression, tar inside). The input is written to a scratch file
 * and unpacked into a scratch folder, which is then removed. Whatever the
 * input, the unpacker must return a result or an error, never write
 * outside its folder, crash or leak; the scratch folder lives under
 * /dev/shm (or /tmp) and anything that escaped would land next to it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/image_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[64];

static void remove_scratch(void)
{
	img__rmrf(scratch);
}

static const char *scratch_dir(void)
{
	if (!scratch[0]) {
		const char *tmp =
			access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(scratch, sizeof(scratch), "%s/shoal-fuzz-layer.XXXXXX",
			 tmp);
		if (!mkdtemp(scratch))
			abort();
		atexit(remove_scratch);
	}
	return scratch;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char blob[128], dest[128];
	snprintf(blob, sizeof(blob), "%s/blob", scratch_dir());
	snprintf(dest, sizeof(dest), "%s/layer", scratch_dir());
	FILE *f = fopen(blob, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	struct img__layer_result res;
	struct img_err err;
	struct img_progress p = {0};
	img__unpack(blob, dest, &res, NULL, NULL, &p, &err);
	img__rmrf(dest);
	unlink(blob);
	return 0;
}
