/*
 * The swarm and node commands' side of the API: any method with a JSON
 * body, Docker's error printing ("Error response from daemon: ..."), and
 * the flag reader the swarm and node subcommands share. Kept apart from
 * client.c (cli_api_get), which the other subcommands use.
 */
#include "cli/swarm_call.h"
#include "common/error.h"
#include "common/http.h"
#include "common/jsonx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int cli__call(struct cli *cli, const char *method, const char *path,
	      const json_t *body, json_t **out)
{
	return cli__call_err(cli, method, path, body, out, NULL, 0);
}

int cli__call_err(struct cli *cli, const char *method, const char *path,
		  const json_t *body, json_t **out, char *err, size_t cap)
{
	char full[1024];
	snprintf(full, sizeof(full), "%s%s", CLI_API_PREFIX, path);
	char *text = NULL;
	size_t len = 0;
	if (body && !(text = jsonx_dump(body, &len))) {
		fprintf(stderr, "Error: out of memory\n");
		return -1;
	}
	struct http_client_req req = {
		.method = method,
		.path = full,
		.body = text,
		.body_len = len,
		.timeout_ms = CLI_TIMEOUT_MS,
	};
	struct http_result r;
	int rc = http_client_fetch(cli->host, &req, &r);
	shoal_free(text);
	if (rc < 0) {
		if (cli_unreachable(rc))
			fprintf(stderr,
				"Cannot connect to the Shoal daemon at %s. Is "
				"shoald running?\n",
				cli->host);
		else
			fprintf(stderr,
				"Error talking to the Shoal daemon at %s: %s\n",
				cli->host, shoal_strerror(rc));
		return -1;
	}
	json_t *v = NULL;
	if (r.body_len) /* Docker answers init with a bare JSON string */
		v = json_loadb(r.body, r.body_len, JSON_DECODE_ANY, NULL);
	if (r.status >= 400) {
		const char *msg = v ? jsonx_str(v, "message", NULL) : NULL;
		if (err)
			snprintf(err, cap, "%s", msg ? msg : r.body);
		else
			fprintf(stderr, "Error response from daemon: %s\n",
				msg ? msg : r.body);
		json_decref(v);
		http_result_fini(&r);
		return -1;
	}
	http_result_fini(&r);
	if (out)
		*out = v;
	else
		json_decref(v);
	return 0;
}

int cli__opt(int argc, char **argv, int *i, const char *name, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "flag needs an argument: %s\n", name);
		return -1;
	}
	*val = argv[++*i];
	return 1;
}

bool cli__flag(const char *arg, const char *lng, const char *shrt)
{
	return strcmp(arg, lng) == 0 || (shrt && strcmp(arg, shrt) == 0);
}

void cli__capitalize(const char *s, char *out, size_t cap)
{
	snprintf(out, cap, "%s", s);
	if (out[0] >= 'a' && out[0] <= 'z')
		out[0] = (char)(out[0] - 'a' + 'A');
}
