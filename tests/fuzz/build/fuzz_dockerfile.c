/*
 * Fuzz target: the classic builder's Dockerfile parser
 * (engine/build_dockerfile.c), which reads the Dockerfile of a build
 * context anyone may send. Any input must parse or be refused with a
 * message; a parsed file must hold only instructions with a name, a
 * NULL-terminated argument list and, for ONBUILD, a parsed trigger.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct df_instr *in)
{
	if (!in->original || (!in->args && in->nargs))
		abort();
	if (in->args && in->args[in->nargs])
		abort();
	if ((in->kind == DF_ONBUILD) != (in->onbuild != NULL))
		abort();
	if (in->onbuild)
		check(in->onbuild);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct df_file f;
	struct shoal_err err;
	if (df_parse((const char *)data, size, &f, &err) == 0) {
		for (size_t i = 0; i < f.n; i++)
			check(&f.v[i]);
		df_file_fini(&f);
	} else if (!err.msg[0]) {
		abort();
	}
	return 0;
}
