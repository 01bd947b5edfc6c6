/*
 * Fuzz target: the credentials file shoal reads for pull, push and login
 * (the docker CLI's config.json, cli_auth_lookup()) and the server
 * addresses `docker login` sends the daemon (img_login_server()). The
 * first byte picks the decoder; for config.json the registry host looked
 * up is fixed. A found entry must have both a user and a password.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/ctr.h"
#include "common/alloc.h"
#include "image/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] % 2 == 0) {
		static const char *const hosts[] = {"docker.io",
						    "127.0.0.1:5000"};
		for (size_t i = 0; i < 2; i++) {
			char *user = NULL, *pass = NULL;
			int rc = cli_auth_lookup(text, size - 1, hosts[i],
						 &user, &pass);
			if (rc == 0 && (!user) != (!pass))
				abort();
			if (rc < 0 && (user || pass))
				abort();
			shoal_free(user);
			shoal_free(pass);
		}
	} else {
		char host[256];
		if (img_login_server(text, host, sizeof(host)) == 0 &&
		    strnlen(host, sizeof(host)) == sizeof(host))
			abort();
	}
	free(text);
	return 0;
}
