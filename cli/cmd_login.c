/*
 * shoal login / logout, and the credentials shoal pull and push send.
 *
 * Credentials live where the docker CLI keeps them: config.json in
 * $DOCKER_CONFIG, else ~/.docker, under "auths" as {"auth": base64 of
 * "user:password"}, keyed by the registry's host[:port]
 * ("https://index.docker.io/v1/" for Docker Hub), so either client reads
 * what the other wrote. The file is rewritten whole (temp file, rename,
 * mode 0600) and keeps every other key it had. Credential helpers
 * (credsStore, credHelpers) are not run: a login they would own is
 * refused rather than written where the docker CLI would not look.
 *
 * shoald checks a login against the registry (POST /auth) before it is
 * stored; pull and push send the stored entry for the image's registry
 * as X-Registry-Auth (base64url JSON), as the docker CLI does.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/ctr.h"
#include "common/alloc.h"
#include "common/jsonx.h"

#define HUB_KEY "https://index.docker.io/v1/"
#define CONFIG_MAX (1u << 20)
#define NFLAGS(f) (sizeof(f) / sizeof((f)[0]))

/* The host[:port] of a server address (scheme and path dropped); Docker
 * Hub's names are "docker.io". -1 when it is not one. */
static int server_host(const char *server, char *host, size_t cap)
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
	if (n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789.-:[]",
			    p[i]))
			return -1;
	memcpy(host, p, n);
	host[n] = '\0';
	return 0;
}

static const char *auth_key(const char *host)
{
	return strcmp(host, "docker.io") ? host : HUB_KEY;
}

int cli_auth_lookup(const char *json, size_t len, const char *host, char **user,
		    char **pass)
{
	json_t *cfg = NULL;
	*user = *pass = NULL;
	if (jsonx_parse_object(json, len, &cfg, NULL, 0) < 0)
		return -EINVAL;
	json_t *auths = json_object_get(cfg, "auths");
	const char *key;
	json_t *v, *hit = NULL;
	/* The exact key first, then any key naming the same host. */
	hit = json_object_get(auths, auth_key(host));
	json_object_foreach(auths, key, v)
	{
		char h[300];
		if (!hit && server_host(key, h, sizeof(h)) == 0 &&
		    !strcmp(h, host))
			hit = v;
	}
	const char *b64 = jsonx_str(hit, "auth", NULL);
	int rc = 0;
	if (b64 && *b64) {
		size_t n = strlen(b64), out_len = 0;
		char *raw = shoal_malloc(n + 1);
		if (!raw ||
		    sodium_base642bin((unsigned char *)raw, n, b64, n, NULL,
				      &out_len, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0) {
			rc = -EINVAL;
		} else {
			raw[out_len] = '\0';
			char *colon = strchr(raw, ':');
			if (!colon || colon == raw || strlen(raw) != out_len) {
				rc = -EINVAL;
			} else {
				*colon = '\0';
				*user = shoal_strdup(raw);
				*pass = shoal_strdup(colon + 1);
				if (!*user || !*pass)
					rc = -ENOMEM;
			}
			sodium_memzero(raw, n + 1);
		}
		shoal_free(raw);
	}
	if (rc < 0) {
		shoal_free(*user);
		shoal_free(*pass);
		*user = *pass = NULL;
	}
	json_decref(cfg);
	return rc;
}

/* config.json's path and folder. */
static int config_paths(char *dir, size_t dcap, char *file, size_t fcap)
{
	const char *d = getenv("DOCKER_CONFIG");
	const char *home = getenv("HOME");
	if (d && *d)
		snprintf(dir, dcap, "%s", d);
	else if (home && *home)
		snprintf(dir, dcap, "%s/.docker", home);
	else
		return -1;
	snprintf(file, fcap, "%s/config.json", dir);
	return 0;
}

/* The file's text (NULL and *len 0 when there is none); -1 on error. */
static int config_read(const char *file, char **text, size_t *len)
{
	*text = NULL;
	*len = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	char *buf = shoal_malloc(CONFIG_MAX + 1);
	ssize_t n = buf ? read(fd, buf, CONFIG_MAX + 1) : -1;
	close(fd);
	if (n < 0 || (size_t)n > CONFIG_MAX) {
		shoal_free(buf);
		return -1;
	}
	buf[n] = '\0';
	*text = buf;
	*len = (size_t)n;
	return 0;
}

int cli_registry_auth_header(const char *host, char **out)
{
	char dir[4096], file[4200], *text, *user, *pass;
	size_t len;
	*out = NULL;
	if (config_paths(dir, sizeof(dir), file, sizeof(file)) < 0 ||
	    config_read(file, &text, &len) < 0 || !text)
		return 0;
	int rc = cli_auth_lookup(text, len, host, &user, &pass);
	shoal_free(text);
	if (rc < 0) {
		fprintf(stderr, "%s: cannot read the credentials of %s\n", file,
			host);
		return -1;
	}
	if (!user)
		return 0;
	json_t *o = json_pack("{s:s,s:s,s:s}", "username", user, "password",
			      pass, "serveraddress", auth_key(host));
	sodium_memzero(pass, strlen(pass));
	shoal_free(user);
	shoal_free(pass);
	size_t n;
	char *js = o ? jsonx_dump(o, &n) : NULL;
	json_decref(o);
	if (!js)
		return -1;
	size_t cap = sodium_base64_ENCODED_LEN(
		n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*out = shoal_malloc(cap);
	if (*out)
		sodium_bin2base64(*out, cap, (unsigned char *)js, n,
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(js, n);
	shoal_free(js);
	return *out ? 0 : -1;
}

/* Writes @cfg to @file atomically, 0600, making @dir if needed. */
static int config_write(const char *dir, const char *file, json_t *cfg)
{
	char tmp[4300];
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", file, (int)getpid());
	char *s = json_dumps(cfg, JSON_INDENT(8));
	int fd = s ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
		   : -1;
	int rc = fd >= 0 ? 0 : -1;
	size_t n = s ? strlen(s) : 0;
	if (rc == 0 && (write(fd, s, n) != (ssize_t)n ||
			write(fd, "\n", 1) != 1 || fsync(fd) < 0))
		rc = -1;
	if (fd >= 0 && close(fd) < 0)
		rc = -1;
	if (rc == 0 && rename(tmp, file) < 0)
		rc = -1;
	if (rc < 0 && fd >= 0)
		unlink(tmp);
	free(s);
	return rc;
}

/* config.json parsed (an empty object when absent); NULL on error. */
static json_t *config_load(const char *file)
{
	char *text;
	size_t len;
	json_t *cfg = NULL;
	if (config_read(file, &text, &len) < 0) {
		fprintf(stderr, "cannot read %s\n", file);
		return NULL;
	}
	if (!text)
		return json_object();
	if (jsonx_parse_object(text, len, &cfg, NULL, 0) < 0)
		fprintf(stderr,
			"%s is not a JSON object: fix or remove it first\n",
			file);
	shoal_free(text);
	return cfg;
}

static int read_password(bool from_stdin, char *buf, size_t cap)
{
	struct termios old, quiet;
	bool tty = !from_stdin && isatty(STDIN_FILENO) &&
		   tcgetattr(STDIN_FILENO, &old) == 0;
	if (!from_stdin)
		fprintf(stderr, "Password: ");
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	bool ok = fgets(buf, (int)cap, stdin) != NULL;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fprintf(stderr, "\n");
	}
	buf[ok ? strcspn(buf, "\r\n") : 0] = '\0';
	return ok && *buf ? 0 : -1;
}

int cli_login(struct cli *cli, int argc, char **argv)
{
	const char *user = "", *pass = "";
	bool pstdin = false;
	const struct cli_flag flags[] = {
		{"username", 'u', CLI_FLAG_STR, &user},
		{"password", 'p', CLI_FLAG_STR, &pass},
		{"password-stdin", 0, CLI_FLAG_BOOL, &pstdin},
	};
	int i = cli_flags("login", flags, NFLAGS(flags), argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal login [OPTIONS] [SERVER]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (argc - i > 1) {
		fprintf(stderr,
			"\"shoal login\" requires at most 1 argument.\n");
		return 1;
	}
	const char *server = i < argc ? argv[i] : "";
	char host[300], pw[1024], dir[4096], file[4200];
	if (server_host(server, host, sizeof(host)) < 0) {
		fprintf(stderr,
			"invalid registry address %s: give HOST[:PORT]\n",
			server);
		return 1;
	}
	if (*pass && pstdin) {
		fprintf(stderr, "--password and --password-stdin are mutually "
				"exclusive\n");
		return 1;
	}
	if (!*user) {
		fprintf(stderr, "a user name is required: give --username\n");
		return 1;
	}
	if (*pass)
		snprintf(pw, sizeof(pw), "%s", pass);
	else if (read_password(pstdin, pw, sizeof(pw)) < 0) {
		fprintf(stderr, "a password is required\n");
		return 1;
	}
	if (config_paths(dir, sizeof(dir), file, sizeof(file)) < 0) {
		fprintf(stderr, "neither DOCKER_CONFIG nor HOME is set\n");
		return 1;
	}
	json_t *cfg = config_load(file);
	if (!cfg)
		return 1;
	if (jsonx_str(cfg, "credsStore", NULL) ||
	    json_object_get(json_object_get(cfg, "credHelpers"),
			    auth_key(host))) {
		fprintf(stderr,
			"%s names a credential helper, which shoal does not "
			"run: log in with the docker CLI\n",
			file);
		json_decref(cfg);
		return 1;
	}
	json_t *body = json_pack("{s:s,s:s,s:s}", "username", user, "password",
				 pw, "serveraddress", auth_key(host));
	json_t *ans = NULL;
	int rc = body ? cli_call_json(cli, "POST", "/auth", body, &ans) : -1;
	json_decref(body);
	json_decref(ans);
	if (rc < 0) {
		sodium_memzero(pw, sizeof(pw));
		json_decref(cfg);
		return 1;
	}
	char up[2100], *b64 = NULL;
	int n = snprintf(up, sizeof(up), "%s:%s", user, pw);
	size_t cap = sodium_base64_ENCODED_LEN((size_t)n,
					       sodium_base64_VARIANT_ORIGINAL);
	b64 = shoal_malloc(cap);
	if (b64)
		sodium_bin2base64(b64, cap, (unsigned char *)up, (size_t)n,
				  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(up, sizeof(up));
	sodium_memzero(pw, sizeof(pw));
	json_t *auths = json_object_get(cfg, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(cfg, "auths", auths);
	}
	rc = b64 && json_object_set_new(auths, auth_key(host),
					json_pack("{s:s}", "auth", b64)) == 0
		     ? config_write(dir, file, cfg)
		     : -1;
	if (b64)
		sodium_memzero(b64, strlen(b64));
	shoal_free(b64);
	json_decref(cfg);
	if (rc < 0) {
		fprintf(stderr, "cannot save the credentials in %s: %s\n", file,
			strerror(errno));
		return 1;
	}
	printf("Login Succeeded\n");
	return 0;
}

int cli_logout(struct cli *cli, int argc, char **argv)
{
	int i = cli_flags("logout", NULL, 0, argc, argv, true);
	if (i == -2) {
		printf("Usage:  shoal logout [SERVER]\n");
		return 0;
	}
	if (i < 0)
		return 1;
	if (argc - i > 1) {
		fprintf(stderr,
			"\"shoal logout\" requires at most 1 argument.\n");
		return 1;
	}
	const char *server = i < argc ? argv[i] : "";
	char host[300], dir[4096], file[4200];
	if (server_host(server, host, sizeof(host)) < 0) {
		fprintf(stderr, "invalid registry address %s\n", server);
		return 1;
	}
	if (config_paths(dir, sizeof(dir), file, sizeof(file)) < 0) {
		fprintf(stderr, "neither DOCKER_CONFIG nor HOME is set\n");
		return 1;
	}
	json_t *cfg = config_load(file);
	if (!cfg)
		return 1;
	json_t *auths = json_object_get(cfg, "auths");
	bool had = json_object_get(auths, auth_key(host)) != NULL;
	int rc = 0;
	if (had) {
		printf("Removing login credentials for %s\n", auth_key(host));
		json_object_del(auths, auth_key(host));
		rc = config_write(dir, file, cfg);
	} else {
		printf("Not logged in to %s\n", auth_key(host));
	}
	json_decref(cfg);
	if (rc < 0) {
		fprintf(stderr, "cannot update %s: %s\n", file,
			strerror(errno));
		return 1;
	}
	return 0;
}

int cli_registry_call(struct cli *cli, const char *path, const char *host,
		      struct http_result *out)
{
	char *auth = NULL, full[4096];
	if (cli_registry_auth_header(host, &auth) < 0)
		return -1;
	struct http_header h = {"X-Registry-Auth", auth};
	snprintf(full, sizeof(full), "%s%s", CLI_API_PREFIX, path);
	struct http_client_req req = {
		.method = "POST",
		.path = full,
		.headers = auth ? &h : NULL,
		.nheaders = auth ? 1 : 0,
		.max_body_bytes = (size_t)1 << 30,
	};
	int rc = http_client_fetch(cli->host, &req, out);
	if (auth)
		sodium_memzero(auth, strlen(auth));
	shoal_free(auth);
	if (rc < 0) {
		fprintf(stderr,
			"Cannot connect to the Shoal daemon at %s. Is shoald "
			"running?\n",
			cli->host);
		return -1;
	}
	if (out->status >= 400) {
		char msg[2048];
		fprintf(stderr, "Error response from daemon: %s\n",
			cli_error_message(out, msg, sizeof(msg)));
		http_result_fini(out);
		return -1;
	}
	return 0;
}
