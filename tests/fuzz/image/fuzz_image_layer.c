/*
 * Fuzz target: a layer archive as img_load() and img_import() unpack it
 * (any compression, tar inside). The input is written to a scratch file
 * and unpacked into a scratch folder, which is then removed. Whatever the
 * input, the unpacker must return a result or an error, never write
 * outside its folder, crash or leak; the scratch folder lives under
 * /dev/shm (or /tmp) and anything that escaped would land next to it.
 *
 * That is checked after every input: the scratch folder must hold exactly
 * the blob and a sentinel file with its text, or the target aborts (a
 * whiteout of ".." once removed the folder holding the layer's).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/internal.h"

#define SENTINEL_TEXT "outside the layer\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[64];

static void remove_scratch(void)
{
	img__rmrf(scratch);
}

static void write_sentinel(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/sentinel", scratch);
	FILE *f = fopen(path, "we");
	if (!f)
		abort();
	fputs(SENTINEL_TEXT, f);
	fclose(f);
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
		write_sentinel();
	}
	return scratch;
}

/* Aborts unless the scratch folder holds the blob and the sentinel, the
 * sentinel unchanged, and nothing else. */
static void check_nothing_escaped(void)
{
	char path[128], text[sizeof(SENTINEL_TEXT) + 8] = "";
	struct dirent *e;
	int n = 0;
	DIR *d = opendir(scratch);
	if (!d) {
		fprintf(stderr, "fuzz-image-layer: %s is gone\n", scratch);
		abort();
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strcmp(e->d_name, "blob") &&
		    strcmp(e->d_name, "sentinel")) {
			fprintf(stderr, "fuzz-image-layer: %s/%s appeared\n",
				scratch, e->d_name);
			abort();
		}
		n++;
	}
	closedir(d);
	snprintf(path, sizeof(path), "%s/sentinel", scratch);
	FILE *f = fopen(path, "re");
	if (f) {
		size_t got = fread(text, 1, sizeof(text) - 1, f);
		text[got] = '\0';
		fclose(f);
	}
	if (n != 2 || strcmp(text, SENTINEL_TEXT)) {
		fprintf(stderr,
			"fuzz-image-layer: %s lost its blob or "
			"sentinel\n",
			scratch);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char blob[128], dest[128];
	snprintf(blob, sizeof(blob), "%s/blob", scratch_dir());
	snprintf(dest, sizeof(dest), "%s/layer", scratch_dir());
	FILE *f = fopen(blob, "wbe");
	if (!f)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	struct img__layer_result res;
	struct shoal_err err;
	struct img_progress p = {0};
	img__unpack(blob, dest, &res, NULL, NULL, &p, &err);
	img__rmrf(dest);
	check_nothing_escaped();
	unlink(blob);
	return 0;
}
