/*
 * The registry client's HTTP side (Docker Registry HTTP API v2 over
 * libcurl's easy interface, on the pulling worker thread): the /v2/ ping
 * that picks the scheme, authentication, and GETs whose bodies go either to
 * memory (manifests, configs, token answers; bounded) or to a file while
 * being hashed (layer blobs).
 *
 * Authentication follows the registry's WWW-Authenticate challenge: Basic
 * sends the caller's credentials; Bearer fetches a token from the realm
 * (service and scope "repository:<path>:pull", the credentials as Basic
 * when there are any) and retries once. libcurl only sends the
 * credentials to the host they were given for, never after a redirect to
 * another host (blob storage behind a 307).
 *
 * Insecure registries (loopback, as Docker's default, and those the caller
 * lists) are tried over HTTPS without verification, then plain HTTP, as
 * Docker does. Others use HTTPS, verified against the system's CAs plus
 * <certs_dir>/<host:port>/ca.crt when present.
 *
 * A download cut in the middle resumes with a Range request from the byte
 * reached (three times at most); the hash state carries over, and an
 * answer other than 206 restarts the blob from zero.
 */
#include "image/registry_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "common/jsonx.h"

#define MEM_MAX IMG_JSON_MAX
#define RESUMES 3
#define SINK_WBUF (1u << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool loopback(const char *domain)
{
	char host[256];
	snprintf(host, sizeof(host), "%s", domain);
	char *colon = strrchr(host, ':');
	if (host[0] == '[') {
		char *end = strchr(host, ']');
		if (end)
			*end = '\0';
		return !strcmp(host + 1, "::1");
	}
	if (colon)
		*colon = '\0';
	struct in_addr a;
	if (!strcmp(host, "localhost"))
		return true;
	return inet_pton(AF_INET, host, &a) == 1 &&
	       (ntohl(a.s_addr) >> 24) == 127;
}

/* Whether @host ("a.b.c.d[:port]") is inside IPv4 CIDR @cidr. */
static bool in_cidr(const char *host, const char *cidr)
{
	char h[256], net[64];
	const char *slash = strchr(cidr, '/');
	if (!slash || (size_t)(slash - cidr) >= sizeof(net))
		return false;
	snprintf(h, sizeof(h), "%s", host);
	h[strcspn(h, ":")] = '\0';
	memcpy(net, cidr, (size_t)(slash - cidr));
	net[slash - cidr] = '\0';
	char *end;
	long bits = strtol(slash + 1, &end, 10);
	struct in_addr a, n;
	if (*end || bits < 0 || bits > 32 || inet_pton(AF_INET, h, &a) != 1 ||
	    inet_pton(AF_INET, net, &n) != 1)
		return false;
	uint32_t mask = bits ? ~0u << (32 - bits) : 0;
	return (ntohl(a.s_addr) & mask) == (ntohl(n.s_addr) & mask);
}

bool img_registry_insecure(const char *host, const char *const *insecure,
			   size_t n)
{
	if (loopback(host))
		return true;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(insecure[i], host) || in_cidr(host, insecure[i]))
			return true;
	return false;
}

int reg__init(struct reg *r, const struct img_pull_opts *o,
	      const struct img_ref *ref, struct shoal_err *err)
{
	pthread_once(&curl_once, curl_init_once);
	memset(r, 0, sizeof(*r));
	r->o = o;
	r->ref = *ref;
	r->err = err;
	const char *host = !strcmp(ref->domain, "docker.io")
				   ? "registry-1.docker.io"
				   : ref->domain;
	snprintf(r->host, sizeof(r->host), "%s", host);
	r->insecure = img_registry_insecure(host, o->insecure, o->n_insecure);
	if (o->certs_dir) {
		snprintf(r->ca, sizeof(r->ca), "%s/%s/ca.crt", o->certs_dir,
			 host);
		if (access(r->ca, R_OK) < 0)
			r->ca[0] = '\0';
	}
	r->h = curl_easy_init();
	if (!r->h)
		return img__fail(err, -ENOMEM, "cannot start an HTTP client");
	return 0;
}

int reg__clone(struct reg *dst, const struct reg *src, struct shoal_err *err)
{
	*dst = *src;
	dst->err = err;
	dst->token = NULL;
	dst->h = curl_easy_init();
	if (src->token)
		dst->token = shoal_strdup(src->token);
	if (!dst->h || (src->token && !dst->token)) {
		reg__fini(dst);
		return img__fail(err, -ENOMEM, "cannot start an HTTP client");
	}
	return 0;
}

void reg__fini(struct reg *r)
{
	if (r->h)
		curl_easy_cleanup(r->h);
	if (r->token) {
		shoal_wipe(r->token, strlen(r->token));
		shoal_free(r->token);
	}
	r->h = NULL;
	r->token = NULL;
}

/* Sinks ------------------------------------------------------------------ */

/*
 * A file sink's pending bytes into its file, its hash and its progress.
 * libcurl hands the body over in pieces of at most 16 KiB
 * (CURL_MAX_WRITE_SIZE); written as they came, a 100 MB blob took 6100
 * write calls and twice the CPU of the same bytes written 1 MiB at a time
 * (docs/images.md, Speed). 0, or -1 with write_errno.
 */
static int sink_flush(struct reg_sink *k)
{
	if (!k->wlen)
		return 0;
	for (size_t off = 0; off < k->wlen;) {
		ssize_t w = write(k->fd, k->wbuf + off, k->wlen - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			k->write_errno = errno;
			k->wlen = 0;
			return -1;
		}
		off += (size_t)w;
	}
	if (k->hash)
		EVP_DigestUpdate(k->hash, k->wbuf, k->wlen);
	img__writeback(k->fd, &k->flushed, k->got + k->wlen, false);
	k->got += k->wlen;
	k->wlen = 0;
	if (k->on_progress)
		k->on_progress(k);
	return 0;
}

/* A file sink's body: staged in @k->wbuf, written SINK_WBUF at a time. */
static size_t file_body(struct reg_sink *k, const char *p, size_t len)
{
	if (k->from && k->status == 200) {
		/* A resume the server answered whole: start the blob over. */
		if (ftruncate(k->fd, 0) < 0 || lseek(k->fd, 0, SEEK_SET) < 0) {
			k->write_errno = errno;
			return 0;
		}
		if (k->hash &&
		    !EVP_DigestInit_ex(k->hash, EVP_sha256(), NULL)) {
			k->write_errno = ENOMEM;
			return 0;
		}
		k->got = k->from = k->flushed = 0;
		k->wlen = 0;
		k->restarts++;
	}
	if (k->got + k->wlen + len > k->limit) {
		k->too_big = true;
		return 0;
	}
	if (!k->wbuf && !(k->wbuf = shoal_malloc(SINK_WBUF))) {
		k->write_errno = ENOMEM;
		return 0;
	}
	for (size_t off = 0; off < len;) {
		size_t take = len - off < SINK_WBUF - k->wlen
				      ? len - off
				      : SINK_WBUF - k->wlen;
		memcpy(k->wbuf + k->wlen, p + off, take);
		k->wlen += take;
		off += take;
		if (k->wlen == SINK_WBUF && sink_flush(k) < 0)
			return 0;
	}
	return len;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct reg_sink *k = arg;
	size_t len = sz * n;
	if (k->stop && atomic_load_explicit(k->stop, memory_order_relaxed)) {
		k->cancelled = true;
		return 0;
	}
	if (k->status >= 300 || k->status < 200) {
		/* An error body: keep a little of it for the message. */
		if (buf_append(&k->mem, p, len) < 0)
			buf_reset(&k->mem);
		return len;
	}
	if (k->fd >= 0)
		return file_body(k, p, len);
	if (buf_append(&k->mem, p, len) < 0) {
		k->too_big = true;
		return 0;
	}
	k->got += len;
	if (k->on_progress)
		k->on_progress(k);
	return len;
}

/* Called by libcurl about once a second even when no bytes come. */
static int on_xfer(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		   curl_off_t ultotal, curl_off_t ulnow)
{
	struct reg_sink *k = arg;
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (atomic_load_explicit(k->stop, memory_order_relaxed)) {
		k->cancelled = true;
		return 1;
	}
	return 0;
}

static void header_value(char *dst, size_t cap, const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct reg_sink *k = arg;
	size_t len = sz * n;
	if (len > 5 && !strncmp(p, "HTTP/", 5)) {
		/* A new response (after a redirect or 100): reset. */
		long st = 0;
		const char *sp = memchr(p, ' ', len);
		if (sp)
			st = strtol(sp + 1, NULL, 10);
		k->status = st;
		k->www_auth[0] = k->ctype[0] = '\0';
		k->location[0] = k->dcd[0] = k->link[0] = '\0';
		return len;
	}
	static const struct {
		const char *name;
		size_t off, cap;
	} hs[] = {
		{"www-authenticate:", offsetof(struct reg_sink, www_auth),
		 sizeof(((struct reg_sink *)0)->www_auth)},
		{"content-type:", offsetof(struct reg_sink, ctype),
		 sizeof(((struct reg_sink *)0)->ctype)},
		{"location:", offsetof(struct reg_sink, location),
		 sizeof(((struct reg_sink *)0)->location)},
		{"docker-content-digest:", offsetof(struct reg_sink, dcd),
		 sizeof(((struct reg_sink *)0)->dcd)},
		{"link:", offsetof(struct reg_sink, link),
		 sizeof(((struct reg_sink *)0)->link)},
	};
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		size_t nl = strlen(hs[i].name);
		if (len > nl && !strncasecmp(p, hs[i].name, nl) &&
		    !((char *)k + hs[i].off)[0])
			header_value((char *)k + hs[i].off, hs[i].cap, p + nl,
				     len - nl);
	}
	return len;
}

void reg__sink_mem(struct reg_sink *k)
{
	memset(k, 0, sizeof(*k));
	k->fd = -1;
	k->body_fd = -1;
	buf_init(&k->mem, MEM_MAX);
}

void reg__sink_fini(struct reg_sink *k)
{
	buf_fini(&k->mem);
	shoal_free(k->wbuf);
	k->wbuf = NULL;
	EVP_MD_CTX_free(k->hash);
	k->hash = NULL;
}

int reg__hash_start(struct reg_sink *k)
{
	k->hash = EVP_MD_CTX_new();
	if (!k->hash || !EVP_DigestInit_ex(k->hash, EVP_sha256(), NULL))
		return -ENOMEM;
	return 0;
}

void reg__hash_hex(struct reg_sink *k, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	hex[0] = '\0';
	if (k->hash && EVP_DigestFinal_ex(k->hash, md, &n) && n == SHA256_BYTES)
		shoal_hex(md, n, hex);
}

/* One request ----------------------------------------------------------- */

static size_t on_read(char *p, size_t sz, size_t n, void *arg)
{
	struct reg_sink *k = arg;
	size_t want = sz * n;
	uint64_t left = k->body_len - k->sent;
	if (want > left)
		want = (size_t)left;
	if (!want)
		return 0;
	if (k->body_fd >= 0) {
		ssize_t got = pread(k->body_fd, p, want, (off_t)k->sent);
		if (got <= 0) {
			k->write_errno = got < 0 ? errno : EIO;
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)got;
	} else {
		memcpy(p, k->body + k->sent, want);
	}
	k->sent += want;
	if (k->on_sent)
		k->on_sent(k);
	return want;
}

/* The method and body of @k's request on @h. */
static void set_method(CURL *h, struct reg_sink *k, struct curl_slist **hdrs)
{
	const char *m = k->method;
	if (!m || !strcmp(m, "GET"))
		return;
	if (!strcmp(m, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		return;
	}
	k->sent = 0;
	if (!strcmp(m, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)k->body_len);
	} else {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)k->body_len);
		if (strcmp(m, "PUT"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
	}
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, k);
	/* No "Expect: 100-continue" round trip before a big body. */
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	if (k->req_ctype) {
		char line[300];
		snprintf(line, sizeof(line), "Content-Type: %s", k->req_ctype);
		*hdrs = curl_slist_append(*hdrs, line);
	}
}

static CURLcode get_once(struct reg *r, const char *url, const char *accept,
			 struct reg_sink *k, uint64_t from)
{
	CURL *h = r->h;
	struct curl_slist *hdrs = NULL;
	char line[600];
	curl_easy_reset(h);
	if (accept) {
		snprintf(line, sizeof(line), "Accept: %s", accept);
		hdrs = curl_slist_append(hdrs, line);
	}
	set_method(h, k, &hdrs);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
	/* A stalled transfer (under 1 byte/s for 60 s) is a failure. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "shoal/1.0 (docker-compatible)");
	/* 512 KiB reads: a big blob costs far fewer callbacks and writes than
	 * with the default 16 KiB (libcurl caps it where it must). */
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, k);
	if (k->stop) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_xfer);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, k);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	if (from) {
		snprintf(line, sizeof(line), "%llu-", (unsigned long long)from);
		curl_easy_setopt(h, CURLOPT_RANGE, line);
	}
	if (r->insecure && !strncmp(url, "https:", 6)) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (r->ca[0]) {
		curl_easy_setopt(h, CURLOPT_CAINFO, r->ca);
	}
	if (r->token) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, r->token);
	} else if (r->basic && r->o->auth.username) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, r->o->auth.username);
		curl_easy_setopt(h, CURLOPT_PASSWORD,
				 r->o->auth.password ? r->o->auth.password
						     : "");
	}
	k->status = 0;
	k->from = from;
	CURLcode cc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	return cc;
}

/* The message of a registry's error body ({"errors":[{"message"}]}). */
static const char *error_text(struct reg_sink *k, char *out, size_t cap)
{
	json_t *o;
	out[0] = '\0';
	if (k->mem.len &&
	    jsonx_parse_object(k->mem.data, k->mem.len, &o, NULL, 0) == 0) {
		json_t *e = json_array_get(json_object_get(o, "errors"), 0);
		const char *m = jsonx_str(e, "message", NULL);
		const char *c = jsonx_str(e, "code", NULL);
		if (m)
			snprintf(out, cap, "%s%s%s", c ? c : "", c ? ": " : "",
				 m);
		json_decref(o);
	}
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return out;
}

/* Token service --------------------------------------------------------- */

static int fetch_token(struct reg *r, const struct img_challenge *c)
{
	if (r->o->auth.registry_token) {
		r->token = shoal_strdup(r->o->auth.registry_token);
		return r->token ? 0 : -ENOMEM;
	}
	if (r->o->auth.identity_token)
		return img__fail(r->err, -EINVAL,
				 "identity tokens (OAuth refresh tokens) are "
				 "not supported: log in with a user name and "
				 "password");
	char *svc = curl_easy_escape(r->h, c->service, 0);
	char scope[600];
	snprintf(scope, sizeof(scope), "repository:%s:%s", r->ref.path,
		 r->actions ? r->actions : "pull");
	/* A login (no repository) asks for no scope, only the account. */
	char *sc = r->ref.path[0] ? curl_easy_escape(r->h, scope, 0) : NULL;
	char *xs = r->extra_scope ? curl_easy_escape(r->h, r->extra_scope, 0)
				  : NULL;
	char *acct = !r->ref.path[0] && r->o->auth.username
			     ? curl_easy_escape(r->h, r->o->auth.username, 0)
			     : NULL;
	char url[2048];
	snprintf(url, sizeof(url), "%s%sservice=%s%s%s%s%s%s%s", c->realm,
		 strchr(c->realm, '?') ? "&" : "?", svc ? svc : "",
		 sc ? "&scope=" : "", sc ? sc : "", xs ? "&scope=" : "",
		 xs ? xs : "", acct ? "&account=" : "", acct ? acct : "");
	curl_free(svc);
	curl_free(sc);
	curl_free(xs);
	curl_free(acct);
	struct reg_sink k;
	reg__sink_mem(&k);
	char *saved = r->token;
	r->token = NULL;
	r->basic = true;
	CURLcode cc = get_once(r, url, "application/json", &k, 0);
	r->token = saved;
	int rc;
	char msg[300];
	if (cc != CURLE_OK)
		rc = img__fail(r->err, -EIO,
			       "cannot reach the token service %s: %s",
			       c->realm, curl_easy_strerror(cc));
	else if (k.status == 401 || k.status == 403)
		rc = img__fail(r->err, -EACCES,
			       "unauthorized: the registry %s refused the "
			       "credentials%s%s; log in with docker login",
			       r->host,
			       *error_text(&k, msg, sizeof(msg)) ? ": " : "",
			       msg);
	else if (k.status != 200)
		rc = img__fail(r->err, -EIO, "token service %s answered %ld",
			       c->realm, k.status);
	else if (img_token_parse(k.mem.data, k.mem.len, &saved) < 0)
		rc = img__fail(r->err, -EPROTO,
			       "token service %s sent no token", c->realm);
	else {
		if (r->token)
			shoal_free(r->token);
		r->token = saved;
		rc = 0;
	}
	reg__sink_fini(&k);
	return rc;
}

static int authenticate(struct reg *r, const char *hdr)
{
	struct img_challenge c;
	if (img_challenge_parse(hdr, &c) < 0)
		return img__fail(r->err, -EPROTO,
				 "registry %s sent an unusable "
				 "WWW-Authenticate challenge",
				 r->host);
	if (!strcmp(c.scheme, "basic")) {
		if (!r->o->auth.username || r->basic)
			return img__fail(r->err, -EACCES,
					 "unauthorized: authentication "
					 "required by %s; log in with docker "
					 "login %s",
					 r->host, r->host);
		r->basic = true;
		return 0;
	}
	return fetch_token(r, &c);
}

/* Requests -------------------------------------------------------------- */

static int transport_fail(struct reg *r, CURLcode cc, const char *what)
{
	return img__fail(r->err, -EIO, "%s from %s: %s", what, r->host,
			 curl_easy_strerror(cc));
}

int reg__ping(struct reg *r)
{
	struct reg_sink k;
	char url[400];
	const char *schemes[2] = {"https", "http"};
	CURLcode cc = CURLE_OK;
	for (int i = 0; i < (r->insecure ? 2 : 1); i++) {
		snprintf(r->base, sizeof(r->base), "%s://%s", schemes[i],
			 r->host);
		snprintf(url, sizeof(url), "%s/v2/", r->base);
		reg__sink_mem(&k);
		cc = get_once(r, url, NULL, &k, 0);
		if (cc == CURLE_OK && (k.status == 200 || k.status == 401))
			break;
		reg__sink_fini(&k);
		if (cc == CURLE_OK)
			return img__fail(r->err, -EIO,
					 "%s is not a registry (GET /v2/ "
					 "answered %ld)",
					 r->host, k.status);
	}
	if (cc != CURLE_OK)
		return img__fail(r->err, -EIO, "Get \"%s\": %s%s%s%s", url,
				 curl_easy_strerror(cc),
				 cc == CURLE_SSL_CONNECT_ERROR
					 ? " (if the registry serves plain "
					   "HTTP, start shoald with "
					   "--insecure-registry "
					 : "",
				 cc == CURLE_SSL_CONNECT_ERROR ? r->host : "",
				 cc == CURLE_SSL_CONNECT_ERROR ? ")" : "");
	int rc = 0;
	if (k.status == 401)
		rc = authenticate(r, k.www_auth);
	reg__sink_fini(&k);
	return rc;
}

void reg__url(const struct reg *r, const char *where, char *out, size_t cap)
{
	if (!strncmp(where, "http://", 7) || !strncmp(where, "https://", 8))
		snprintf(out, cap, "%s", where);
	else if (where[0] == '/' && !strncmp(where, "/v2/", 4))
		snprintf(out, cap, "%s%s", r->base, where);
	else
		snprintf(out, cap, "%s/v2/%s%s", r->base, r->ref.path, where);
}

int reg__request(struct reg *r, const char *where, struct reg_sink *k,
		 const char *what)
{
	return reg__get(r, where, NULL, k, what);
}

int reg__get(struct reg *r, const char *path, const char *accept,
	     struct reg_sink *k, const char *what)
{
	char url[2600];
	reg__url(r, path, url, sizeof(url));
	for (int attempt = 0;; attempt++) {
		CURLcode cc = get_once(r, url, accept, k, k->got);
		if (k->fd >= 0 && !k->cancelled)
			sink_flush(k); /* what came before the end or the cut */
		if (k->cancelled)
			return -ECANCELED;
		if (k->write_errno)
			return img__fail(r->err, -k->write_errno,
					 "writing %s: %s", what,
					 strerror(k->write_errno));
		if (k->too_big && k->fd < 0)
			return img__fail(r->err, -EFBIG,
					 "%s is too large (over 4 MiB)", what);
		if (k->too_big)
			return img__fail(r->err, SHOAL_ECORRUPT,
					 "%s is larger than its descriptor "
					 "says",
					 what);
		if (cc != CURLE_OK && k->fd >= 0 && k->got &&
		    attempt < RESUMES && k->status / 100 == 2)
			continue; /* resume from k->got */
		if (cc != CURLE_OK)
			return transport_fail(r, cc, what);
		if (k->status == 401 && attempt == 0) {
			int rc = authenticate(r, k->www_auth);
			buf_reset(&k->mem);
			if (rc < 0)
				return rc;
			continue;
		}
		if (k->status / 100 == 2)
			return 0;
		char msg[300];
		error_text(k, msg, sizeof(msg));
		if (k->status == 404)
			return img__fail(r->err, SHOAL_ENOTFOUND,
					 "%s: not found%s%s", what,
					 msg[0] ? ": " : "", msg);
		if (k->status == 401 || k->status == 403)
			return img__fail(r->err, -EACCES,
					 "%s: access denied (%ld)%s%s", what,
					 k->status, msg[0] ? ": " : "", msg);
		return img__fail(r->err, -EIO,
				 "%s: the registry answered %ld%s%s", what,
				 k->status, msg[0] ? ": " : "", msg);
	}
}
