/*
 * The blob service (issue 14): a node serves the blobs of its image store
 * (configs and layer blobs, image/blob.h) to the certified nodes of its
 * swarm, and fetches blobs from them, over the swarm's secure channel
 * (proto/channel.h: both ends' certificates checked against the swarm's
 * root key; the server also requires the peer's certificate to name its
 * own cluster, refuses peers that hold only a join token and, given an
 * acl (below, as shoald always does), serves only the nodes it names).
 *
 * Protocol, one channel frame per message (docs/images.md):
 *   fetcher -> holder: "sha256:<64 hex>" (the blob wanted, or the DiffID
 *                      of a layer wanted; one request at a time)
 *   holder -> fetcher: 'B' + "sha256:<64 hex>" (the blob that follows),
 *                      'D' + bytes (zero or more data frames, in order),
 *                      then 'E' (the end); or 'X' + a message (refused;
 *                      "not allowed: ..." (BLOBSVC_DENIED) when the node
 *                      is not in the acl, at any time: then closed).
 * The fetcher verifies the blob's sha256 against the digest it asked for
 * (a config, a blob), or, for a layer asked by DiffID, against the 'B'
 * digest, the layer's DiffID then being checked when the image is
 * assembled (img_blob_assemble()); a blob that fails is never kept.
 */
#ifndef SHOAL_WORKER_BLOB_SERVICE_H
#define SHOAL_WORKER_BLOB_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "image/image.h"
#include "proto/channel.h"

#define BLOBSVC_CHUNK (256u << 10) /* data bytes per 'D' frame */

enum blobsvc_kind {
	BLOBSVC_BLOB = 'B',
	BLOBSVC_DATA = 'D',
	BLOBSVC_END = 'E',
	BLOBSVC_ERROR = 'X',
};

/*
 * blobsvc_frame_parse() - a holder's frame: its kind and the bytes after
 * the kind byte. -EINVAL for an empty frame, an unknown kind, a 'B'
 * whose bytes are not a digest, an 'E' with bytes, an 'X' whose message is
 * empty, longer than 512 bytes or not printable.
 */
int blobsvc_frame_parse(const uint8_t *data, size_t len,
			enum blobsvc_kind *kind, const uint8_t **payload,
			size_t *plen);

/*
 * blobsvc_serve_fd() - serve blobs of @s on the connected stream socket
 * @fd (taken in every case) to peers whose certificate names cluster
 * @cluster_id (copied). @cfg as for wire_chan_open() (server side);
 * WIRE_PLAIN only for tests and benchmarks. Returns 0 or a code.
 */
int blobsvc_serve_fd(uv_loop_t *loop, int fd,
		     const struct wire_chan_config *cfg, struct img_store *s,
		     const char *cluster_id);

/*
 * Who may fetch (issue 14): the managers name, in each holder's
 * assignments, the nodes that may fetch from it now (the ready nodes with
 * a task whose ImageHolders name this holder, docs/images.md). An acl
 * holds that set; a server channel given one serves a peer only if the
 * node id of its certificate (from the handshake) is in it, else it sends
 * an 'X' frame starting with BLOBSVC_DENIED and closes. Setting a new set
 * closes every open connection of a node that left it.
 */
#define BLOBSVC_DENIED "not allowed: "
#define BLOBSVC_ACL_MAX 4096 /* node ids in one set */
/* Connections a holder serves at once (handshakes included); past that a
 * new one is closed as it comes. */
#define BLOBSVC_MAX_CONNS 256

struct blobsvc_acl;

/* blobsvc_acl_new() - an empty set (nobody may fetch) on @loop (a timer
 * closes refused connections once the refusal is out, or after 2 s).
 * NULL: no memory. */
struct blobsvc_acl *blobsvc_acl_new(uv_loop_t *loop);

/* blobsvc_acl_free() - closes the connections it guards (freed on the
 * loop); NULL is fine. */
void blobsvc_acl_free(struct blobsvc_acl *a);

/*
 * blobsvc_acl_set() - replace the set with the @n node ids @ids (copied).
 * -EINVAL (an id empty, too long or not [A-Za-z0-9_-], more than
 * BLOBSVC_ACL_MAX) or -ENOMEM and the set is unchanged; else the number
 * of open connections closed because their node left the set.
 */
int blobsvc_acl_set(struct blobsvc_acl *a, const char *const *ids, size_t n);

/*
 * blobsvc_acl_set_item() - the set from a "blob-clients" assignment item
 * (@len bytes of JSON): {"Kind": "blob-clients", "Nodes": [node ids]}.
 * -EINVAL for anything else (not that kind, not an array of valid ids,
 * too many) and the set is unchanged; else as blobsvc_acl_set().
 */
int blobsvc_acl_set_item(struct blobsvc_acl *a, const void *data, size_t len);

/* blobsvc_acl_allows() - is @node_id in the set? */
bool blobsvc_acl_allows(const struct blobsvc_acl *a, const char *node_id);

/* blobsvc_serve_fd_acl() / blobsvc_accept_acl() - as below, serving only
 * the nodes @acl names (borrowed until blobsvc_acl_free()). With
 * BLOBSVC_MAX_CONNS channels of @acl open, blobsvc_accept_acl() takes the
 * waiting connection and closes it at once: -EMFILE. */
int blobsvc_serve_fd_acl(uv_loop_t *loop, int fd,
			 const struct wire_chan_config *cfg,
			 struct img_store *s, const char *cluster_id,
			 struct blobsvc_acl *acl);
int blobsvc_accept_acl(uv_loop_t *loop, uv_stream_t *listener,
		       const struct wire_chan_config *cfg, struct img_store *s,
		       const char *cluster_id, struct blobsvc_acl *acl);

/* blobsvc_accept() - the same for a connection waiting on @listener. */
int blobsvc_accept(uv_loop_t *loop, uv_stream_t *listener,
		   const struct wire_chan_config *cfg, struct img_store *s,
		   const char *cluster_id);

/*
 * blobsvc_done_fn - a fetch's end, once, on the loop thread: @rc 0 and
 * @path (the verified blob under the store's tmp/, the callee's to move
 * or remove; valid for the call) or a negative code and @msg saying what
 * went wrong (the holder's refusal, a blob whose bytes did not match, the
 * holder gone mid-transfer). @got: bytes received.
 */
typedef void blobsvc_done_fn(int rc, const char *path, const char *msg,
			     uint64_t got, void *arg);

/* @digest is a layer's DiffID: the holder sends the layer's blob. */
#define BLOBSVC_LAYER 1u

/*
 * blobsvc_fetch_fd() / blobsvc_fetch_addr() - fetch blob @digest of at
 * most @max bytes (0: IMG_BLOB_MAX) from the holder at the other end of
 * @fd (taken) or at @addr, into @s's tmp/. @flags: BLOBSVC_LAYER or 0.
 * @done runs exactly once when this returned 0; on a failure returned
 * here it never runs.
 */
int blobsvc_fetch_fd(uv_loop_t *loop, int fd,
		     const struct wire_chan_config *cfg, struct img_store *s,
		     const char *digest, unsigned flags, uint64_t max,
		     blobsvc_done_fn *done, void *arg);
int blobsvc_fetch_addr(uv_loop_t *loop, const struct sockaddr *addr,
		       const struct wire_chan_config *cfg, struct img_store *s,
		       const char *digest, unsigned flags, uint64_t max,
		       blobsvc_done_fn *done, void *arg);

/*
 * What a fetch in flight shows its caller (borrowed by the fetch until
 * @done ran): @received, the blob's bytes so far, updated on the loop
 * thread as they arrive; @blob, the digest of the blob the holder sends
 * ("sha256:<hex>", set when it says so; the bytes are verified against it
 * before @done gets a path, so a file given to @done hashes to @blob).
 */
struct blobsvc_watch {
	uint64_t received;
	char blob[80];
};

/* blobsvc_fetch_fd_watch() / blobsvc_fetch_addr_watch() - the same as
 * blobsvc_fetch_fd() / blobsvc_fetch_addr(), keeping @w up to date. */
int blobsvc_fetch_fd_watch(uv_loop_t *loop, int fd,
			   const struct wire_chan_config *cfg,
			   struct img_store *s, const char *digest,
			   unsigned flags, uint64_t max,
			   struct blobsvc_watch *w, blobsvc_done_fn *done,
			   void *arg);
int blobsvc_fetch_addr_watch(uv_loop_t *loop, const struct sockaddr *addr,
			     const struct wire_chan_config *cfg,
			     struct img_store *s, const char *digest,
			     unsigned flags, uint64_t max,
			     struct blobsvc_watch *w, blobsvc_done_fn *done,
			     void *arg);

#endif
