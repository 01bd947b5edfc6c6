/*
 * One assignment item as the agent decodes it (wtask_decode), then the
 * engine spec built from it. A decoded task has a valid id; one without a spec
 * error has a valid container name, an image and NULL-terminated lists.
 */
#include "worker/task.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct wtask_node node = {"host", "linux", "x86_64"};
	struct shoal_err err = {""};
	struct wtask *t = NULL;
	struct eng_spec s;
	if (wtask_decode(data, size, &node, &t, &err) < 0)
		return 0;
	if (!t->id[0] || strlen(t->container_name) > RT_NAME_MAX)
		abort();
	if (!t->spec_error[0]) {
		if (!rt_name_valid(t->container_name))
			abort(); /* accepted a name the runtime refuses */
		wtask_eng_spec(t, &s);
		if (!s.image || !*s.image || !s.labels)
			abort();
		for (size_t i = 0; s.env && s.env[i]; i++)
			(void)strlen(s.env[i]);
		for (size_t i = 0; s.volumes && s.volumes[i]; i++)
			(void)strlen(s.volumes[i]);
	}
	wtask_free(t);
	return 0;
}
