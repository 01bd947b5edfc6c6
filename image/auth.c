/*
 * docker login through the daemon (POST /auth): whether a registry takes
 * a user name and password. The registry's /v2/ is pinged; its challenge
 * is answered as a pull answers it (Basic: the credentials sent; Bearer: a
 * token asked of the realm with the credentials and the account, no
 * scope), and /v2/ must then answer 200. A registry that asks for no
 * authentication takes any login, as Docker's does. Nothing is stored:
 * the client keeps the credentials (the docker CLI in its config.json).
 */
#define LOG_MODULE "image"
#include "image/registry_internal.h"

#include <errno.h>
#include <string.h>

int img_login_server(const char *server, char *host, size_t cap)
{
	const char *p = server ? server : "";
	if (!strncmp(p, "https://", 8))
		p += 8;
	else if (!strncmp(p, "http://", 7))
		p += 7;
	size_t n = strcspn(p, "/");
	if (n == 0 || !strncmp(p, "index.docker.io", n) ||
	    !strncmp(p, "registry-1.docker.io", n) ||
	    (n == 9 && !strncmp(p, "docker.io", 9))) {
		snprintf(host, cap, "docker.io");
		return 0;
	}
	if (n >= cap || n >= sizeof(((struct img_ref *)0)->domain))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789.-:[]",
			    p[i]))
			return -EINVAL;
	memcpy(host, p, n);
	host[n] = '\0';
	return 0;
}

int img_login(const struct img_pull_opts *o, const char *server,
	      struct shoal_err *err)
{
	struct shoal_err local;
	struct img_ref ref = {0};
	struct reg r;
	struct reg_sink k;
	if (!err)
		err = &local;
	err->msg[0] = '\0';
	if (img_login_server(server, ref.domain, sizeof(ref.domain)) < 0)
		return img__fail(
			err, -EINVAL,
			"invalid registry address %s: give HOST[:PORT]",
			server);
	if (!o->auth.username || !*o->auth.username)
		return img__fail(err, -EINVAL,
				 "a user name is required to log in");
	int rc = reg__init(&r, o, &ref, err);
	if (rc == 0)
		rc = reg__ping(&r);
	reg__sink_mem(&k);
	if (rc == 0)
		rc = reg__request(&r, "/v2/", &k, "/v2/");
	if (rc == -EACCES) {
		char why[SHOAL_ERR_MAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		rc = img__fail(err, -EACCES,
			       "login attempt to %s/v2/ failed with status: "
			       "401 Unauthorized (%s)",
			       r.base, why);
	}
	reg__sink_fini(&k);
	reg__fini(&r);
	return rc;
}

json_t *img_registry_config_json(const char *const *insecure, size_t n)
{
	json_t *cidrs = json_pack("[s]", "127.0.0.0/8");
	json_t *idx =
		json_pack("{s:{s:s,s:[],s:b,s:b}}", "docker.io", "Name",
			  "docker.io", "Mirrors", "Secure", 1, "Official", 1);
	for (size_t i = 0; cidrs && idx && i < n; i++) {
		if (strchr(insecure[i], '/'))
			json_array_append_new(cidrs, json_string(insecure[i]));
		else
			json_object_set_new(idx, insecure[i],
					    json_pack("{s:s,s:[],s:b,s:b}",
						      "Name", insecure[i],
						      "Mirrors", "Secure", 0,
						      "Official", 0));
	}
	if (!cidrs || !idx) {
		json_decref(cidrs);
		json_decref(idx);
		return NULL;
	}
	return json_pack("{s:[],s:[],s:o,s:o,s:[]}",
			 "AllowNondistributableArtifactsCIDRs",
			 "AllowNondistributableArtifactsHostnames",
			 "InsecureRegistryCIDRs", cidrs, "IndexConfigs", idx,
			 "Mirrors");
}
