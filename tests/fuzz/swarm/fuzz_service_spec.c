/*
 * The ServiceSpec body of POST /services/create and /services/{id}/update
 * as the managers check it (service_spec_check()) and complete it
 * (service_spec_defaults()), then decode it as the orchestrator does
 * (orch_model_put() of a service object). Anything is refused with a
 * message, or accepted as a spec that checks again unchanged, whose
 * defaults check too, and that the orchestrator decodes.
 */
#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/orch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decodes(const json_t *spec)
{
	struct store *s;
	if (store_new(&s) < 0)
		return;
	size_t len;
	char *text = jsonx_dump(spec, &len);
	struct store_batch b;
	store_batch_init(&b, 1);
	uint8_t *enc = NULL;
	size_t elen;
	if (text &&
	    store_batch_create(&b, STORE_SERVICES, "svc", "web", text, len,
			       "{}", 2) == 0 &&
	    store_batch_finish(&b, &enc, &elen) == 0 &&
	    store_apply(s, enc, elen, 1, NULL) == 0) {
		struct orch_model m;
		orch_model_init(&m);
		if (orch_model_load(&m, s) == 0 && !orch_service_get(&m, "svc"))
			abort(); /* an accepted spec the orchestrator drops */
		orch_model_fini(&m);
	} else {
		store_batch_fini(&b);
	}
	shoal_free(enc);
	shoal_free(text);
	store_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in = NULL, *out = NULL, *again = NULL, *full = NULL;
	char err[256] = "";
	if (jsonx_parse_object((const char *)data, size, &in, err,
			       sizeof(err)) < 0)
		return 0;
	int rc = service_spec_check(in, &out, err, sizeof(err));
	if (rc == 0) {
		if (service_spec_check(out, &again, err, sizeof(err)) != 0 ||
		    !json_equal(out, again))
			abort(); /* a stored spec does not check again */
		full = service_spec_defaults(out);
		json_decref(again);
		again = NULL;
		if (!full ||
		    service_spec_check(full, &again, err, sizeof(err)) != 0)
			abort(); /* the defaults break the rules */
		decodes(out);
	} else if (!*err) {
		abort(); /* refused without saying why */
	}
	json_decref(full);
	json_decref(again);
	json_decref(out);
	json_decref(in);
	return 0;
}
