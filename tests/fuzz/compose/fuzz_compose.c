/*
 * Fuzz target for the compose file reader (compose/): the input is a
 * compose file, parsed with a small environment (so interpolation runs),
 * converted in single-host mode, then merged onto itself (as a second -c
 * file would be) and converted into a stack's API objects. Files the document
 * names are read from a reader that serves a fixed content for any path, so
 * env_file, secrets and configs are converted too without touching the disk.
 * Any crash, leak or sanitizer report is a bug; so is a successful conversion
 * whose services are not all named STACK_NAME.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_read(void *arg, const char *path, char **out, size_t *len,
		     struct shoal_err *err)
{
	(void)arg;
	(void)err;
	if (strstr(path, "missing"))
		return -2;
	*out = strdup("A=1\n# c\nB\n");
	*len = strlen(*out);
	return *out ? 0 : -12;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *vars = json_pack("{s:s, s:s}", "TAG", "1.0", "EMPTY", "");
	struct compose_env env = {vars};
	struct compose_opts o = {
		.stack = "fz", .dir = "/d", .env = &env, .read = fake_read};
	struct shoal_err err = {{0}};
	json_t *doc = NULL, *again = NULL, *out = NULL;
	if (compose_parse((const char *)data, size, "fuzz", &env, &doc, &err) ==
	    0) {
		again = json_deep_copy(doc);
		/* The single-host mode over the same tree first. */
		o.local = true;
		if (compose_convert(doc, &o, &out, &err) == 0)
			json_decref(out);
		out = NULL;
		o.local = false;
		if (again && compose_merge(again, doc, &err) == 0 &&
		    compose_convert(again, &o, &out, &err) == 0) {
			const char *name;
			json_t *s;
			json_object_foreach(json_object_get(out, "Services"),
					    name, s)
			{
				const char *n = json_string_value(
					json_object_get(s, "Name"));
				if (!n || strncmp(n, "fz_", 3) ||
				    strcmp(n + 3, name))
					abort();
			}
		}
	}
	json_decref(out);
	json_decref(again);
	json_decref(doc);
	json_decref(vars);
	return 0;
}
