/*
 * Fuzz target: the builder's word expansion (engine/build_words.c),
 * which processes ENV, LABEL, COPY, FROM, ... arguments of a Dockerfile
 * anyone may send. The first byte picks the escape character; the rest
 * is one word, expanded against a few variables (one of them long, so
 * nested defaults grow fast). It must expand or be refused with a
 * message, and never exceed DF_MAX_BYTES.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "engine/build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *vars(const char *name, void *arg)
{
	static char big[4096];
	if (!big[0])
		memset(big, 'x', sizeof(big) - 1);
	if (!strcmp(name, "A"))
		return "one";
	if (!strcmp(name, "BIG"))
		return big;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	char *word = malloc(size);
	if (!word)
		return 0;
	memcpy(word, data + 1, size - 1);
	word[size - 1] = '\0';
	char esc = data[0] & 1 ? '`' : '\\';
	char *out = NULL;
	struct shoal_err err;
	err.msg[0] = '\0';
	int rc = df_expand(word, esc, vars, NULL, &out, &err);
	if (rc == 0) {
		if (strlen(out) > DF_MAX_BYTES)
			abort();
		shoal_free(out);
	} else if (!err.msg[0] && rc != -ENOMEM) {
		abort();
	}
	free(word);
	return 0;
}
