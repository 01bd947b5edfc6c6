/*
 * Parsers of what a registry or a client sends us: image references
 * (distribution/reference's grammar), WWW-Authenticate challenges
 * (RFC 7235, the Docker token auth spec's Bearer realm/service/scope),
 * token server answers, and Docker's X-Registry-Auth header. All of it is
 * outside input: lengths are bounded, every field's type is checked, and
 * tests/fuzz/image/fuzz_image_registry.c drives each function.
 */
#include "image/registry.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/alloc.h"
#include "common/jsonx.h"
#include "image/internal.h"

/* References ------------------------------------------------------------ */

static bool path_component_ok(const char *p, size_t n)
{
	/* [a-z0-9]+ separated by '.', '_', '__' or '-'+ */
	if (n == 0 ||
	    !(islower((unsigned char)p[0]) || isdigit((unsigned char)p[0])))
		return false;
	if (!(islower((unsigned char)p[n - 1]) ||
	      isdigit((unsigned char)p[n - 1])))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (islower(c) || isdigit(c) || c == '-')
			continue;
		if (c == '.' || c == '_') {
			bool two = c == '_' && i + 1 < n && p[i + 1] == '_';
			size_t next = i + (two ? 2 : 1);
			if (next >= n || !isalnum((unsigned char)p[next]))
				return false;
			i = next - 1;
			continue;
		}
		return false;
	}
	return true;
}

static bool domain_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!isalnum(c) && c != '.' && c != '-' && c != ':' &&
		    c != '[' && c != ']')
			return false;
	}
	return n > 0;
}

static bool tag_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && !strchr("_.-", t[i]))
			return false;
	return true;
}

static bool digest_ok(const char *d)
{
	if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
			return false;
	return true;
}

static int ref_fail(struct shoal_err *err, const char *in)
{
	return img__fail(err, -EINVAL, "invalid reference format: %s", in);
}

static int split_name(const char *name, struct img_ref *r)
{
	const char *slash = strchr(name, '/');
	size_t n = slash ? (size_t)(slash - name) : 0;
	bool host = slash && (memchr(name, '.', n) || memchr(name, ':', n) ||
			      (n == 9 && !memcmp(name, "localhost", 9)));
	const char *path = host ? slash + 1 : name;
	if (host) {
		if (!domain_ok(name, n) || n >= sizeof(r->domain))
			return -EINVAL;
		memcpy(r->domain, name, n);
		r->domain[n] = '\0';
	} else {
		snprintf(r->domain, sizeof(r->domain), "docker.io");
	}
	if (!strcmp(r->domain, "index.docker.io"))
		snprintf(r->domain, sizeof(r->domain), "docker.io");
	if (!*path)
		return -EINVAL;
	bool lib = !strcmp(r->domain, "docker.io") && !strchr(path, '/');
	int w = snprintf(r->path, sizeof(r->path), "%s%s",
			 lib ? "library/" : "", path);
	if (w < 0 || (size_t)w >= sizeof(r->path))
		return -EINVAL;
	for (const char *p = path; *p;) {
		const char *s = strchr(p, '/');
		size_t len = s ? (size_t)(s - p) : strlen(p);
		if (!path_component_ok(p, len))
			return -EINVAL;
		p += len + (s ? 1 : 0);
		if (s && !*p)
			return -EINVAL;
	}
	return 0;
}

int img_ref_parse(const char *in, struct img_ref *out, struct shoal_err *err)
{
	char buf[512];
	memset(out, 0, sizeof(*out));
	if (!in || !*in || strlen(in) >= sizeof(buf))
		return ref_fail(err, in ? in : "");
	memcpy(buf, in, strlen(in) + 1);
	char *at = strchr(buf, '@');
	if (at) {
		*at = '\0';
		if (!digest_ok(at + 1))
			return ref_fail(err, in);
		snprintf(out->digest, sizeof(out->digest), "%s", at + 1);
	}
	char *slash = strrchr(buf, '/');
	char *colon = strrchr(buf, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = '\0';
		if (!tag_ok(colon + 1))
			return ref_fail(err, in);
		snprintf(out->tag, sizeof(out->tag), "%s", colon + 1);
	} else if (!at) {
		snprintf(out->tag, sizeof(out->tag), "latest");
	}
	if (split_name(buf, out) < 0)
		return ref_fail(err, in);
	return 0;
}

void img_ref_familiar(const struct img_ref *r, char *out, size_t cap)
{
	if (!strcmp(r->domain, "docker.io"))
		snprintf(out, cap, "%s",
			 strncmp(r->path, "library/", 8) ? r->path
							 : r->path + 8);
	else
		snprintf(out, cap, "%s/%s", r->domain, r->path);
}

/* WWW-Authenticate ------------------------------------------------------ */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	return p;
}

/* One auth-param: name=token or name="quoted\"string". */
static const char *param(const char *p, char *name, size_t ncap, char *val,
			 size_t vcap)
{
	size_t n = 0;
	while (*p && *p != '=' && *p != ' ' && *p != ',') {
		if (n + 1 < ncap)
			name[n++] = (char)tolower((unsigned char)*p);
		p++;
	}
	name[n] = '\0';
	if (*p != '=')
		return NULL;
	p++;
	n = 0;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			if (n + 1 >= vcap)
				return NULL;
			val[n++] = *p;
		}
		if (*p != '"')
			return NULL;
		p++;
	} else {
		for (; *p && *p != ',' && *p != ' '; p++) {
			if (n + 1 >= vcap)
				return NULL;
			val[n++] = *p;
		}
	}
	val[n] = '\0';
	return p;
}

int img_challenge_parse(const char *hdr, struct img_challenge *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = skip_ws(hdr);
	size_t n = 0;
	while (*p && *p != ' ' && n + 1 < sizeof(out->scheme))
		out->scheme[n++] = (char)tolower((unsigned char)*p++);
	out->scheme[n] = '\0';
	if (strcmp(out->scheme, "bearer") && strcmp(out->scheme, "basic"))
		return -EINVAL;
	for (p = skip_ws(p); *p; p = skip_ws(p)) {
		char name[32], val[512];
		p = param(p, name, sizeof(name), val, sizeof(val));
		if (!p)
			return -EINVAL;
		if (!strcmp(name, "realm"))
			snprintf(out->realm, sizeof(out->realm), "%s", val);
		else if (!strcmp(name, "service") &&
			 strlen(val) < sizeof(out->service))
			memcpy(out->service, val, strlen(val) + 1);
		else if (!strcmp(name, "scope"))
			snprintf(out->scope, sizeof(out->scope), "%s", val);
	}
	if (!strcmp(out->scheme, "bearer") &&
	    strncmp(out->realm, "https://", 8) &&
	    strncmp(out->realm, "http://", 7))
		return -EINVAL;
	return 0;
}

/* Tokens ---------------------------------------------------------------- */

int img_token_parse(const char *data, size_t len, char **out)
{
	json_t *o;
	*out = NULL;
	if (len > 1u << 20 || jsonx_parse_object(data, len, &o, NULL, 0) < 0)
		return -EINVAL;
	const char *t = jsonx_str(o, "token", NULL);
	if (!t || !*t)
		t = jsonx_str(o, "access_token", NULL);
	int rc = -EINVAL;
	if (t && *t && strlen(t) < 16384 && !strpbrk(t, "\r\n")) {
		*out = shoal_strdup(t);
		rc = *out ? 0 : -ENOMEM;
	}
	json_decref(o);
	return rc;
}

/* X-Registry-Auth ------------------------------------------------------- */

static const char *str_field(json_t *o, const char *k, bool *bad)
{
	json_t *v = json_object_get(o, k);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = true;
		return NULL;
	}
	const char *s = json_string_value(v);
	if (strpbrk(s, "\r\n"))
		*bad = true;
	return *s ? s : NULL;
}

int img_auth_decode(const char *header, json_t **out, struct img_auth *auth,
		    struct shoal_err *err)
{
	memset(auth, 0, sizeof(*auth));
	*out = NULL;
	size_t hl = header ? strlen(header) : 0;
	if (hl == 0)
		return 0;
	if (hl > 65536)
		return img__fail(err, -EINVAL, "X-Registry-Auth is too long");
	unsigned char *bin = shoal_malloc(hl + 1);
	if (!bin)
		return -ENOMEM;
	size_t bl = 0;
	if (sodium_base642bin(bin, hl, header, hl, "=", &bl, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) < 0 &&
	    sodium_base642bin(bin, hl, header, hl, "=", &bl, NULL,
			      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) < 0) {
		shoal_free(bin);
		return img__fail(err, -EINVAL,
				 "X-Registry-Auth is not base64: send the "
				 "credentials as Docker's CLI does");
	}
	json_t *o;
	int rc = jsonx_parse_object((char *)bin, bl, &o, NULL, 0);
	sodium_memzero(bin, hl + 1);
	shoal_free(bin);
	if (rc < 0)
		return img__fail(err, -EINVAL,
				 "X-Registry-Auth is not a JSON object");
	bool bad = false;
	auth->username = str_field(o, "username", &bad);
	auth->password = str_field(o, "password", &bad);
	auth->identity_token = str_field(o, "identitytoken", &bad);
	auth->registry_token = str_field(o, "registrytoken", &bad);
	if (bad) {
		json_decref(o);
		memset(auth, 0, sizeof(*auth));
		return img__fail(err, -EINVAL,
				 "X-Registry-Auth: a credential field is not "
				 "a one-line string");
	}
	*out = o;
	return 0;
}
