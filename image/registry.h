/*
 * Pulling images from a registry (Docker Registry HTTP API v2, the OCI
 * distribution spec) into the image store, through libcurl.
 *
 * img_pull() blocks and belongs on a worker thread; img_pull_async() runs
 * it on libuv's thread pool and delivers its messages on the loop thread.
 * Every blob is hashed while it streams into the store's staging folder and
 * refused unless it matches its digest; layers then go through the store's
 * confined unpacker and commit (all or nothing), as a `docker load` does.
 * Credentials are never stored: the caller passes them per pull (the API
 * takes them from the X-Registry-Auth header).
 */
#ifndef SHOAL_IMAGE_REGISTRY_H
#define SHOAL_IMAGE_REGISTRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "common/error.h"
#include "image/image.h"

/* A parsed reference: registry host, repository path, tag or digest. */
struct img_ref {
	char domain[256]; /* "docker.io", "127.0.0.1:5000" */
	char path[256];	  /* "library/busybox" */
	char tag[129];	  /* "latest"; "" with a digest */
	char digest[72];  /* "sha256:<hex>" or "" */
};

/**
 * img_ref_parse() - Docker's reference grammar (distribution/reference):
 * an optional registry host (a first component with '.' or ':', or
 * "localhost"), lowercase path components, ":tag" (default "latest" when no
 * digest) and/or "@sha256:<64 hex>". docker.io names get "library/" when
 * they have one component. -EINVAL with a message in @err.
 */
int img_ref_parse(const char *in, struct img_ref *out, struct shoal_err *err);

/**
 * img_ref_familiar() - the short name Docker shows ("busybox",
 * "127.0.0.1:5000/x/y") into @out.
 */
void img_ref_familiar(const struct img_ref *r, char *out, size_t cap);

/* Credentials for one pull (Docker's AuthConfig). Borrowed strings. */
struct img_auth {
	const char *username;
	const char *password;
	const char *identity_token; /* OAuth refresh token, or NULL */
	const char *registry_token; /* bearer token used as is, or NULL */
};

/**
 * img_auth_decode() - Docker's X-Registry-Auth header: base64url (padded
 * or not) of a JSON AuthConfig. An empty header or "{}" gives no
 * credentials. On success 0 and *@out (json_decref) whose strings back
 * @auth. -EINVAL with a message otherwise.
 */
int img_auth_decode(const char *header, json_t **out, struct img_auth *auth,
		    struct shoal_err *err);

struct img_pull_opts {
	const char *reference; /* "name[:tag][@digest]" */
	struct img_auth auth;
	/* "os/arch[/variant]"; NULL or "" for the host's. Only the host's
	 * platform can run here: another is refused. */
	const char *platform;
	/* Registries reached over plain HTTP ("host:port"); loopback
	 * registries always are, as in Docker. */
	const char *const *insecure;
	size_t n_insecure;
	/* Docker's certs.d: <certs_dir>/<host:port>/ca.crt is trusted for
	 * that registry. NULL: none. */
	const char *certs_dir;
	/* docker pull --all-tags: @reference names a repository (no tag, no
	 * digest) and every tag its registry lists is pulled, in order. */
	bool all_tags;
};

/*
 * One line of Docker's pull progress: @status ("Pulling fs layer",
 * "Downloading", ...) for layer @id ("" for the image), with byte counts
 * when @total is not 0.
 */
struct img_pull_msg {
	const char *status;
	const char *id;
	uint64_t current;
	uint64_t total;
	bool detail; /* carries progressDetail */
};
typedef void img_pull_msg_fn(const struct img_pull_msg *m, void *arg);

/**
 * img_pull() - fetch @o->reference and commit it to @s, tagged as pulled
 * (by digest: untagged). Blocks. On success 0 and *@result (owned):
 * {"id": "sha256:<image id>", "digest": "sha256:<manifest digest>",
 * "ref": "<normalized name:tag or name@digest>", "new": bool}. With
 * @o->all_tags each tag's "Digest: ..." goes to @msg as it is pulled and
 * the result is {"ref": "<name>", "new": any tag new, "all_tags": true};
 * the first tag that fails ends the pull (the tags before it stay).
 * SHOAL_ENOTFOUND for an unknown repository or tag, -EACCES when the
 * registry refuses the credentials, SHOAL_ECORRUPT for a blob or manifest
 * that does not match its digest, -EIO for transport failures; @err says
 * which.
 */
int img_pull(struct img_store *s, const struct img_pull_opts *o,
	     img_pull_msg_fn *msg, void *arg, json_t **result,
	     struct shoal_err *err);

/**
 * img_pull_async() - img_pull() on libuv's thread pool. @o is copied.
 * @msg runs on the loop thread, in order, every message delivered; @done
 * once on the loop thread after the last one, unless this call fails.
 */
int img_pull_async(uv_loop_t *loop, struct img_store *s,
		   const struct img_pull_opts *o, img_pull_msg_fn *msg,
		   img_done_fn *done, void *arg);

struct img_push_opts {
	const char *reference; /* "name[:tag]" of a local image */
	struct img_auth auth;
	const char *const *insecure; /* as struct img_pull_opts */
	size_t n_insecure;
	const char *certs_dir;
};

/**
 * img_push() - send local image @o->reference to the registry its name
 * points at, under its tag: blobs the repository lacks (mounted from
 * another repository of that registry where the image is tagged too,
 * else uploaded), then the manifest (image manifest v2 schema 2; OCI when
 * a layer is OCI-only). Blocks. @msg gets Docker's push progress. On
 * success 0 and *@result (owned): {"tag", "digest": "sha256:<manifest>",
 * "size": manifest bytes, "id": config hex}. SHOAL_ENOTFOUND when the
 * image is not local, -EACCES when the registry refuses, -EIO for
 * transport failures; @err says which.
 */
int img_push(struct img_store *s, const struct img_push_opts *o,
	     img_pull_msg_fn *msg, void *arg, json_t **result,
	     struct shoal_err *err);

/** img_push_async() - img_push() on libuv's thread pool, as
 * img_pull_async(). */
int img_push_async(uv_loop_t *loop, struct img_store *s,
		   const struct img_push_opts *o, img_pull_msg_fn *msg,
		   img_done_fn *done, void *arg);

/**
 * img_distribution() - Docker's /distribution/{name}/json answer for
 * @o->reference (only its reference, auth, insecure and certs_dir are
 * read): {"Descriptor": {"mediaType", "digest", "size"} of the manifest
 * the reference names, "Platforms": [{"architecture", "os"[, "variant"]}]}
 * (a list's entries, or an image's config). Blocks. Errors as img_pull().
 */
int img_distribution(const struct img_pull_opts *o, json_t **out,
		     struct shoal_err *err);

/** img_distribution_async() - img_distribution() on libuv's thread pool;
 * @done gets the answer as its result. */
int img_distribution_async(uv_loop_t *loop, const struct img_pull_opts *o,
			   img_done_fn *done, void *arg);

/**
 * img_login() - whether the registry at @server ("host[:port]", maybe with
 * a scheme and a path, as `docker login` takes it; "" or Docker Hub's
 * names for docker.io) takes @o->auth's user name and password (@o's
 * insecure and certs_dir apply). 0 when it does, or when it asks for no
 * authentication; -EACCES with Docker's "login attempt to ... failed with
 * status: 401 Unauthorized" when it refuses; -EINVAL, -EIO otherwise.
 * Blocks; stores nothing.
 */
int img_login(const struct img_pull_opts *o, const char *server,
	      struct shoal_err *err);

/** img_login_async() - img_login() of @o->reference (the server) on
 * libuv's thread pool; @done's result is {"Status":"Login Succeeded"}. */
int img_login_async(uv_loop_t *loop, const struct img_pull_opts *o,
		    img_done_fn *done, void *arg);

/**
 * img_login_server() - the registry host of a `docker login` server
 * argument into @host: the scheme and any path dropped, Docker Hub's names
 * ("", index.docker.io, registry-1.docker.io) as "docker.io". -EINVAL for
 * characters a host cannot have or one too long.
 */
int img_login_server(const char *server, char *host, size_t cap);

/**
 * img_registry_insecure() - whether registry @host ("host[:port]") may be
 * reached over plain HTTP or unverified TLS: loopback (Docker's default
 * 127.0.0.0/8 and ::1, localhost), or named by @insecure (HOST[:PORT]
 * exactly, or an IPv4 CIDR holding a numeric host).
 */
bool img_registry_insecure(const char *host, const char *const *insecure,
			   size_t n);

/**
 * img_registry_config_json() - Docker's /info RegistryConfig for the
 * daemon's @insecure list: InsecureRegistryCIDRs (127.0.0.0/8 and the
 * CIDRs), IndexConfigs (docker.io and each HOST[:PORT], Secure false),
 * Mirrors. New reference, or NULL.
 */
json_t *img_registry_config_json(const char *const *insecure, size_t n);

/**
 * img_search() - docker search in the catalog of registry @host (@o's
 * auth, insecure and certs_dir apply): at most @limit repositories whose
 * path contains @term ("" for all), as Docker's results [{"name":
 * "host/path", "description": "", "star_count": 0, "is_official": false,
 * "is_automated": false}]. Blocks. SHOAL_ENOTFOUND for a registry
 * without a catalog; errors otherwise as img_pull().
 */
int img_search(const struct img_pull_opts *o, const char *host,
	       const char *term, size_t limit, json_t **out,
	       struct shoal_err *err);

/** img_search_async() - img_search() on libuv's thread pool. */
int img_search_async(uv_loop_t *loop, const struct img_pull_opts *o,
		     const char *host, const char *term, size_t limit,
		     img_done_fn *done, void *arg);

/**
 * img_catalog_parse() - a /v2/_catalog page ({"repositories": [...]})
 * appended to the json array @names, up to @max; names a reference could
 * not hold are skipped. -EPROTO with a message for a malformed page.
 */
int img_catalog_parse(const char *data, size_t len, json_t *names, size_t max,
		      struct shoal_err *err);

/**
 * img_tags_parse() - a /v2/<name>/tags/list page ({"tags": [...]})
 * appended to the json array @tags, up to @max; tags Docker's grammar
 * refuses are skipped. -EPROTO with a message for a malformed page.
 */
int img_tags_parse(const char *data, size_t len, json_t *tags, size_t max,
		   struct shoal_err *err);

/* Parsers of registry bytes (exposed for the fuzz targets). */

/* A WWW-Authenticate challenge. */
struct img_challenge {
	char scheme[16]; /* "bearer" or "basic" (lowercase) */
	char realm[512];
	char service[256];
	char scope[512];
};
/** img_challenge_parse() - RFC 7235 challenge; -EINVAL when unusable. */
int img_challenge_parse(const char *hdr, struct img_challenge *out);

/**
 * img_token_parse() - a token server's JSON answer ({"token"} or
 * {"access_token"}) into @out (owned, shoal_free). -EINVAL otherwise.
 */
int img_token_parse(const char *data, size_t len, char **out);

#endif
