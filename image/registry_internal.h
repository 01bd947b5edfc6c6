/*
 * Internal to the registry client (image/registry*.c): the connection to
 * one registry for one pull, and the sinks its GETs write into.
 */
#ifndef SHOAL_IMAGE_REGISTRY_INTERNAL_H
#define SHOAL_IMAGE_REGISTRY_INTERNAL_H

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdatomic.h>

#include "common/buf.h"
#include "image/internal.h"
#include "image/registry.h"

struct reg {
	CURL *h;
	const struct img_pull_opts *o;
	struct img_ref ref;
	struct shoal_err *err;
	char host[256]; /* "registry-1.docker.io", "127.0.0.1:5000" */
	char base[300]; /* "https://host" once the ping chose */
	char ca[4096];	/* certs.d CA file, or "" */
	char *token;	/* bearer token, owned */
	bool basic;	/* send the credentials as Basic */
	bool insecure;	/* HTTPS unverified, then HTTP */
	/* Token scopes: the actions on ref.path ("pull" when NULL), and
	 * one more scope or NULL (a cross-repository mount's source). */
	const char *actions;
	const char *extra_scope;
};

/* Where a GET's body goes: memory (bounded) or a file, hashed. */
struct reg_sink {
	struct buf mem;	  /* also the error body of a failed request */
	int fd;		  /* -1: memory */
	EVP_MD_CTX *hash; /* file sinks: sha256 of the body, or NULL */
	uint64_t got;	  /* body bytes kept (file sinks: in the file) */
	char *wbuf;	  /* file sinks: bytes received, not yet written */
	size_t wlen;
	uint64_t from;	   /* the Range start of the current request */
	uint64_t flushed;  /* file sinks: bytes handed to writeback */
	unsigned restarts; /* file sinks: times the body started over */
	uint64_t limit; /* file sinks: the descriptor's size; more is refused */
	long status;
	int write_errno;
	bool too_big;
	bool cancelled; /* *stop was seen: the transfer was abandoned */
	/* Set by another thread to abandon the transfer (NULL: never). */
	const atomic_bool *stop;
	char www_auth[1024];
	char ctype[256];
	char location[2048]; /* Location of the answer (uploads) */
	char dcd[80];	     /* its Docker-Content-Digest */
	char link[1024];     /* its Link (catalog pages) */
	void (*on_progress)(struct reg_sink *k);
	void *arg;
	/* The request (reg__request): NULL method is GET. A body comes from
	 * @body_fd (read with pread from offset 0) or @body, @body_len bytes;
	 * @on_sent sees @sent grow. */
	const char *method;
	const char *req_ctype;
	int body_fd;
	const char *body;
	uint64_t body_len, sent;
	void (*on_sent)(struct reg_sink *k);
};

int reg__init(struct reg *r, const struct img_pull_opts *o,
	      const struct img_ref *ref, struct shoal_err *err);
void reg__fini(struct reg *r);
/*
 * reg__clone() - a second connection to the registry @src reached (scheme,
 * token, Basic chosen), for a parallel download; its errors go to @err.
 * 0 or -ENOMEM; reg__fini() it.
 */
int reg__clone(struct reg *dst, const struct reg *src, struct shoal_err *err);
/* reg__ping() - GET /v2/: choose the scheme, authenticate if asked. */
int reg__ping(struct reg *r);
/*
 * reg__get() - GET /v2/<path>@path into @k, authenticating and resuming.
 * -ECANCELED (no message) when @k->stop was set during the transfer.
 */
int reg__get(struct reg *r, const char *path, const char *accept,
	     struct reg_sink *k, const char *what);
/*
 * reg__request() - @k->method (HEAD, POST, PUT; GET when NULL) on @where:
 * "/..." under /v2/<path>, or a whole URL (an upload's Location), with
 * @k's body, authenticating once. 0 for a 2xx answer (@k->status says
 * which); SHOAL_ENOTFOUND, -EACCES, -EIO with a message otherwise.
 */
int reg__request(struct reg *r, const char *where, struct reg_sink *k,
		 const char *what);
/* reg__url() - the whole URL of @where as reg__request() reads it. */
void reg__url(const struct reg *r, const char *where, char *out, size_t cap);
void reg__sink_mem(struct reg_sink *k);
void reg__sink_fini(struct reg_sink *k);
/*
 * Blob hashing: OpenSSL's sha256, which uses the CPU's SHA extensions
 * (about five times libsodium's portable code here, docs/images.md).
 */
int reg__hash_start(struct reg_sink *k);
void reg__hash_hex(struct reg_sink *k, char hex[SHA256_HEX_LEN + 1]);

/* img_pull() of one reference (registry.c); img_pull() adds --all-tags
 * (pull_tags.c). @err is not NULL. */
int img__pull_one(struct img_store *s, const struct img_pull_opts *o,
		  img_pull_msg_fn *msg, void *arg, json_t **result,
		  struct shoal_err *err);

#endif
