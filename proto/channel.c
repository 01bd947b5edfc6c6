/*
 * The channel: see channel.h for the contract and handshake.h for the
 * handshake it drives.
 *
 * Read side: one fixed read buffer per connection; the frame decoder hands
 * whole frames out of it in place (or gathers a split one), the secure
 * channel decrypts them in place, the application borrows the plaintext.
 * Write side: two buffers, one in flight with uv_write() and one collecting
 * new frames, swapped when the write completes, so small frames are
 * batched into few system calls and the total never exceeds
 * max_write_buffer.
 *
 * Closing: every path goes through begin_close(), which stops reading,
 * closes the stream and the timer and records the reason; the application's
 * closed() runs from the last close callback, after libuv has cancelled the
 * outstanding write, and then the memory goes. fail() is the only place
 * that logs, so each closed connection costs at most one line.
 */
#define LOG_MODULE "wire"
#include "proto/channel.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "proto/handshake.h"
#include "proto/wire.h"

#define READ_BUF_SIZE (64 * 1024)
#define NONCE_LEN crypto_aead_chacha20poly1305_ietf_NPUBBYTES
/* Keep an idle write buffer's memory only below this size. */
#define WRITE_KEEP_MAX (1024 * 1024)

struct wire_chan {
	uv_loop_t *loop;
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} io;
	uv_timer_t timer;
	uv_write_t wreq;
	uv_connect_t creq;
	int open_handles;
	bool server;
	bool closing;
	bool aborted; /* open failed: free silently on close */
	bool connected;
	bool handshaking;
	bool writing;
	bool want_writable;
	bool io_ready; /* stream connected (connect may still be pending) */
	int reason;
	char *name;
	void *data;
	struct wire_chan_callbacks cb;
	/* Our copy of the configuration and what it points to. */
	struct wire_chan_config cfg;
	uint8_t root_pk[WIRE_PK_LEN];
	struct wire_keypair identity;
	uint8_t *cert;
	struct wire_token token;
	struct wire_hs hs;
	struct wire_peer peer;
	uint8_t key_tx[WIRE_KEY_LEN];
	uint8_t key_rx[WIRE_KEY_LEN];
	uint64_t tx_ctr;
	uint64_t rx_ctr;
	struct wire_decoder dec;
	uint8_t *rbuf;
	struct buf wq[2];
	struct buf *pend; /* collecting */
	struct buf *fly;  /* in flight while writing */
};

static void finalize(struct wire_chan *c)
{
	if (c->cfg.security == WIRE_SECURE)
		wire__hs_fini(&c->hs);
	wire_decoder_fini(&c->dec);
	buf_fini(&c->wq[0]);
	buf_fini(&c->wq[1]);
	shoal_wipe(c->key_tx, sizeof(c->key_tx));
	shoal_wipe(c->key_rx, sizeof(c->key_rx));
	wire_keypair_wipe(&c->identity);
	shoal_wipe(&c->token, sizeof(c->token));
	shoal_free(c->cert);
	shoal_free(c->rbuf);
	shoal_free(c->name);
	shoal_free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct wire_chan *c = h->data;
	if (--c->open_handles > 0)
		return;
	if (!c->aborted)
		c->cb.closed(c, c->reason);
	finalize(c);
}

static void begin_close(struct wire_chan *c, int reason)
{
	if (c->closing)
		return;
	c->closing = true;
	c->reason = reason;
	uv_read_stop(&c->io.stream);
	uv_close(&c->io.handle, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static const char *peer_node(const struct wire_chan *c)
{
	if (!c->peer.authenticated && !c->hs.peer.cert.node_id[0])
		return "-";
	if (c->peer.joined)
		return "(joining)";
	return c->peer.authenticated ? c->peer.cert.node_id
				     : c->hs.peer.cert.node_id;
}

/* Close for a cause, logging the one line that explains it. */
__attribute__((format(printf, 4, 5))) static void
fail(struct wire_chan *c, int rc, enum log_level level, const char *fmt, ...)
{
	if (c->closing)
		return;
	if (c->cfg.quiet_handshake && !c->connected)
		level = LOG_LEVEL_DEBUG;
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_write(level, LOG_MODULE,
		  "peer=%s node=%s connection closed: %s (%s)", c->name,
		  peer_node(c), why, shoal_strerror(rc));
	begin_close(c, rc);
}

static void nonce_for(uint8_t n[NONCE_LEN], uint64_t ctr)
{
	memset(n, 0, NONCE_LEN);
	for (int i = 0; i < 8; i++)
		n[NONCE_LEN - 8 + i] = (uint8_t)(ctr >> (8 * i));
}

static size_t queued(const struct wire_chan *c)
{
	return c->wq[0].len + c->wq[1].len;
}

static void on_write(uv_write_t *req, int status);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

static void kick_write(struct wire_chan *c)
{
	if (c->writing || c->closing || c->pend->len == 0)
		return;
	struct buf *t = c->fly;
	c->fly = c->pend;
	c->pend = t;
	uv_buf_t b = uv_buf_init(c->fly->data, (unsigned)c->fly->len);
	int rc = uv_write(&c->wreq, &c->io.stream, &b, 1, on_write);
	if (rc < 0) {
		fail(c, rc, LOG_LEVEL_WARN, "write failed");
		return;
	}
	c->writing = true;
}

static void on_write(uv_write_t *req, int status)
{
	struct wire_chan *c = req->data;
	c->writing = false;
	if (c->closing)
		return;
	if (status < 0) {
		fail(c, status, LOG_LEVEL_WARN, "write failed");
		return;
	}
	if (c->fly->cap > WRITE_KEEP_MAX)
		buf_fini(c->fly);
	else
		buf_reset(c->fly);
	kick_write(c);
	if (c->want_writable && !c->closing &&
	    queued(c) <= c->cfg.max_write_buffer / 2) {
		c->want_writable = false;
		if (c->cb.writable)
			c->cb.writable(c);
	}
}

/*
 * Room for a frame of @len plaintext bytes at the end of the collecting
 * buffer; *@out points where the plaintext goes. Nothing is committed
 * until commit_frame().
 */
static int reserve_frame(struct wire_chan *c, size_t len, bool seal,
			 uint8_t **out)
{
	size_t plen = len + (seal ? WIRE_AEAD_TAG_LEN : 0);
	size_t need = WIRE_HEADER_LEN + plen;
	if (len > c->cfg.max_frame || plen > c->cfg.max_frame)
		return -EMSGSIZE;
	if (need > c->cfg.max_write_buffer - queued(c)) {
		c->want_writable = true;
		return -ENOBUFS;
	}
	int rc = buf_reserve(c->pend, need);
	if (rc < 0)
		return rc == -ENOBUFS ? -ENOMEM : rc;
	*out = (uint8_t *)c->pend->data + c->pend->len + WIRE_HEADER_LEN;
	return 0;
}

/* Frame (and seal) the @len bytes written after reserve_frame(), queue. */
static void commit_frame(struct wire_chan *c, size_t len, bool seal)
{
	uint8_t *p = (uint8_t *)c->pend->data + c->pend->len;
	size_t plen = len + (seal ? WIRE_AEAD_TAG_LEN : 0);
	wire_put_header(p, (uint32_t)plen);
	if (seal) {
		uint8_t n[NONCE_LEN];
		nonce_for(n, c->tx_ctr++);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			p + WIRE_HEADER_LEN, p + WIRE_HEADER_LEN + len, NULL,
			p + WIRE_HEADER_LEN, len, NULL, 0, NULL, n, c->key_tx);
	}
	c->pend->len += WIRE_HEADER_LEN + plen;
	kick_write(c);
}

/* Append one frame (encrypted when @seal) to the collecting buffer. */
static int queue_frame(struct wire_chan *c, const void *data, size_t len,
		       bool seal)
{
	uint8_t *p;
	int rc = reserve_frame(c, len, seal, &p);
	if (rc < 0)
		return rc;
	if (len)
		memcpy(p, data, len);
	commit_frame(c, len, seal);
	return 0;
}

int wire_chan_send(struct wire_chan *c, const void *data, size_t len)
{
	if (!c->connected || c->closing)
		return -ENOTCONN;
	return queue_frame(c, data, len, c->cfg.security == WIRE_SECURE);
}

int wire_chan_send_pb(struct wire_chan *c, const ProtobufCMessage *msg)
{
	if (!c->connected || c->closing)
		return -ENOTCONN;
	bool seal = c->cfg.security == WIRE_SECURE;
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *p;
	int rc = reserve_frame(c, len, seal, &p);
	if (rc < 0)
		return rc;
	protobuf_c_message_pack(msg, p);
	commit_frame(c, len, seal);
	return 0;
}

int wire_chan_pause(struct wire_chan *c, bool paused)
{
	if (c->closing || !c->io_ready)
		return -ENOTCONN;
	if (paused)
		return uv_read_stop(&c->io.stream);
	return uv_read_start(&c->io.stream, on_alloc, on_read);
}

void wire_chan_close(struct wire_chan *c)
{
	begin_close(c, 0);
}

void *wire_chan_data(const struct wire_chan *c)
{
	return c->data;
}

const char *wire_chan_name(const struct wire_chan *c)
{
	return c->name;
}

int wire_chan_peer_addr(const struct wire_chan *c, struct sockaddr_storage *out)
{
	if (!c->io_ready || c->io.handle.type != UV_TCP)
		return -ENOTCONN;
	int len = sizeof(*out);
	memset(out, 0, sizeof(*out));
	return uv_tcp_getpeername(&c->io.tcp, (struct sockaddr *)out, &len);
}

size_t wire_chan_queued(const struct wire_chan *c)
{
	return queued(c);
}

size_t wire_chan_max_payload(const struct wire_chan *c)
{
	size_t tag = c->cfg.security == WIRE_SECURE ? WIRE_AEAD_TAG_LEN : 0;
	return c->cfg.max_frame - tag;
}

/* Decrypt a received frame in place; its plaintext length into @out_len. */
static int open_frame(struct wire_chan *c, uint8_t *p, size_t len,
		      size_t *out_len)
{
	if (len < WIRE_AEAD_TAG_LEN)
		return SHOAL_EAUTH;
	size_t mlen = len - WIRE_AEAD_TAG_LEN;
	uint8_t n[NONCE_LEN];
	nonce_for(n, c->rx_ctr);
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		    p, NULL, p, mlen, p + mlen, NULL, 0, n, c->key_rx) != 0)
		return SHOAL_EAUTH;
	c->rx_ctr++;
	*out_len = mlen;
	return 0;
}

static void handshake_done(struct wire_chan *c)
{
	c->handshaking = false;
	c->connected = true;
	c->peer = c->hs.peer;
	wire__hs_fini(&c->hs); /* the transcript is no longer needed */
	uv_timer_stop(&c->timer);
	c->dec.max_frame = c->cfg.max_frame;
	log_debug("peer=%s node=%s connected as %s", c->name, peer_node(c),
		  wire_role_name(c->peer.role));
	c->cb.connected(c, &c->peer);
}

static void take_keys(struct wire_chan *c)
{
	memcpy(c->key_tx, c->hs.key_tx, WIRE_KEY_LEN);
	memcpy(c->key_rx, c->hs.key_rx, WIRE_KEY_LEN);
	shoal_wipe(c->hs.key_tx, WIRE_KEY_LEN);
	shoal_wipe(c->hs.key_rx, WIRE_KEY_LEN);
}

static void handshake_frame(struct wire_chan *c, uint8_t *p, size_t len)
{
	if (c->hs.state == WIRE_HS_CLIENT_WAIT_FINISH) {
		size_t mlen;
		if (open_frame(c, p, len, &mlen) < 0 || mlen != 0) {
			fail(c, SHOAL_EAUTH, LOG_LEVEL_WARN,
			     "server's handshake confirmation does not verify");
			return;
		}
		c->hs.state = WIRE_HS_DONE;
		c->hs.peer.authenticated = true;
		handshake_done(c);
		return;
	}
	struct buf out;
	buf_init(&out, WIRE_HS_MAX);
	int64_t now = time_real_ns() / NSEC_PER_SEC;
	int rc = wire__hs_recv(&c->hs, p, len, now, &out);
	if (rc == 0 && out.len)
		rc = queue_frame(c, out.data, out.len, false);
	buf_fini(&out);
	if (rc < 0) {
		fail(c, rc, LOG_LEVEL_WARN, "handshake failed: %s",
		     c->hs.why ? c->hs.why : "cannot send");
		return;
	}
	if (c->hs.state == WIRE_HS_CLIENT_WAIT_FINISH) {
		take_keys(c);
	} else if (c->hs.state == WIRE_HS_DONE) {
		take_keys(c);
		/* The encrypted empty frame confirms the keys to the client. */
		rc = queue_frame(c, NULL, 0, true);
		if (rc < 0) {
			fail(c, rc, LOG_LEVEL_WARN, "cannot send confirmation");
			return;
		}
		handshake_done(c);
	}
}

static int on_frame(void *arg, uint8_t *p, size_t len)
{
	struct wire_chan *c = arg;
	if (c->closing)
		return SHOAL_ECLOSED;
	if (c->handshaking) {
		handshake_frame(c, p, len);
	} else if (c->cfg.security == WIRE_SECURE) {
		size_t mlen;
		if (open_frame(c, p, len, &mlen) < 0)
			fail(c, SHOAL_EAUTH, LOG_LEVEL_WARN,
			     "frame %llu failed authentication (altered, "
			     "replayed, reordered or dropped)",
			     (unsigned long long)c->rx_ctr);
		else
			c->cb.frame(c, p, mlen);
	} else {
		c->cb.frame(c, p, len);
	}
	return c->closing ? SHOAL_ECLOSED : 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct wire_chan *c = h->data;
	*b = uv_buf_init((char *)c->rbuf, READ_BUF_SIZE);
}

static void on_eof(struct wire_chan *c)
{
	if (!c->connected)
		fail(c, SHOAL_ECLOSED, LOG_LEVEL_WARN,
		     "peer closed the connection during the handshake");
	else if (!wire_decoder_idle(&c->dec))
		fail(c, SHOAL_EFRAME, LOG_LEVEL_WARN,
		     "peer closed the connection inside a frame "
		     "(truncated frame)");
	else
		fail(c, SHOAL_ECLOSED, LOG_LEVEL_INFO,
		     "peer closed the connection");
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct wire_chan *c = s->data;
	if (c->closing || nread == 0)
		return;
	if (nread == UV_EOF) {
		on_eof(c);
		return;
	}
	if (nread < 0) {
		fail(c, (int)nread, LOG_LEVEL_WARN, "read failed");
		return;
	}
	int rc = wire_decoder_feed(&c->dec, (uint8_t *)b->base, (size_t)nread,
				   on_frame, c);
	if (rc == SHOAL_EFRAME)
		fail(c, rc, LOG_LEVEL_WARN,
		     "frame length over the limit of "
		     "%zu bytes",
		     c->dec.max_frame);
	else if (rc < 0)
		fail(c, rc, LOG_LEVEL_WARN, "cannot buffer a frame");
}

static void on_timer(uv_timer_t *t)
{
	struct wire_chan *c = t->data;
	if (c->closing)
		return;
	if (c->handshaking) {
		fail(c, -ETIMEDOUT, LOG_LEVEL_WARN,
		     "handshake timed out after %llu ms",
		     (unsigned long long)c->cfg.handshake_timeout_ms);
		return;
	}
	if (!c->connected && c->io_ready) {
		c->connected = true;
		c->cb.connected(c, &c->peer);
	}
}

/* Copy what @cfg points to into @c and point c->cfg at the copies. */
static int copy_config(struct wire_chan *c, const struct wire_chan_config *cfg)
{
	c->cfg = *cfg;
	if (!c->cfg.max_frame)
		c->cfg.max_frame = WIRE_DEFAULT_MAX_FRAME;
	if (c->cfg.max_frame > UINT32_MAX - WIRE_HEADER_LEN ||
	    c->cfg.max_frame < WIRE_AEAD_TAG_LEN)
		return -EINVAL;
	if (!c->cfg.max_write_buffer)
		c->cfg.max_write_buffer = c->cfg.max_frame + 64 * 1024;
	if (c->cfg.max_write_buffer < c->cfg.max_frame + WIRE_HEADER_LEN ||
	    c->cfg.max_write_buffer > UINT32_MAX)
		return -EINVAL;
	if (!c->cfg.handshake_timeout_ms)
		c->cfg.handshake_timeout_ms = WIRE_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	c->name = shoal_strdup(cfg->peer_name ? cfg->peer_name : "?");
	if (!c->name)
		return -ENOMEM;
	if (cfg->security == WIRE_PLAIN)
		return 0;
	if (cfg->security != WIRE_SECURE)
		return -EINVAL;
	if (cfg->root_pk) {
		memcpy(c->root_pk, cfg->root_pk, WIRE_PK_LEN);
		c->cfg.root_pk = c->root_pk;
	}
	if (cfg->identity) {
		c->identity = *cfg->identity;
		c->cfg.identity = &c->identity;
	}
	if (cfg->cert) {
		c->cert = shoal_memdup(cfg->cert, cfg->cert_len);
		if (!c->cert)
			return -ENOMEM;
		c->cfg.cert = c->cert;
	}
	if (cfg->token) {
		if (c->server)
			return -EINVAL;
		c->token = *cfg->token;
		c->cfg.token = &c->token;
	}
	c->cfg.peer_name = c->name;
	return 0;
}

static int chan_new(uv_loop_t *loop, bool server,
		    const struct wire_chan_config *cfg,
		    const struct wire_chan_callbacks *cb, void *data,
		    struct wire_chan **out)
{
	if (!cb->connected || !cb->frame || !cb->closed)
		return -EINVAL;
	struct wire_chan *c = shoal_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->server = server;
	c->cb = *cb;
	c->data = data;
	c->pend = &c->wq[0];
	c->fly = &c->wq[1];
	int rc = copy_config(c, cfg);
	if (rc < 0)
		goto err_free;
	buf_init(&c->wq[0], c->cfg.max_write_buffer);
	buf_init(&c->wq[1], c->cfg.max_write_buffer);
	c->rbuf = shoal_malloc(READ_BUF_SIZE);
	if (!c->rbuf) {
		rc = -ENOMEM;
		goto err_free;
	}
	if (c->cfg.security == WIRE_SECURE) {
		rc = wire__hs_init(&c->hs, server, &c->cfg);
		if (rc < 0) {
			log_warn("peer=%s cannot start handshake: %s", c->name,
				 c->hs.why ? c->hs.why : shoal_strerror(rc));
			wire__hs_fini(&c->hs);
			goto err_free;
		}
		c->handshaking = true;
	}
	/* A handshake message is small; refuse big frames until it is done. */
	wire_decoder_init(&c->dec,
			  c->handshaking ? WIRE_HS_MAX : c->cfg.max_frame);
	c->wreq.data = c;
	*out = c;
	return 0;

err_free:
	c->cfg.security = WIRE_PLAIN; /* nothing of the handshake to undo */
	finalize(c);
	return rc;
}

/* With c->io initialised and opened: start the timer, the reads, and the
 * client's first message. On failure the handles close silently. */
static int chan_start(struct wire_chan *c)
{
	c->io.handle.data = c;
	c->io_ready = true;
	c->timer.data = c;
	c->open_handles = 2;
	uv_timer_init(c->loop, &c->timer);
	uint64_t ms = c->handshaking ? c->cfg.handshake_timeout_ms : 0;
	int rc = uv_timer_start(&c->timer, on_timer, ms, 0);
	if (rc == 0)
		rc = uv_read_start(&c->io.stream, on_alloc, on_read);
	if (rc == 0 && c->handshaking && !c->server) {
		struct buf out;
		buf_init(&out, WIRE_HS_MAX);
		rc = wire__hs_start(&c->hs, &out);
		if (rc == 0)
			rc = queue_frame(c, out.data, out.len, false);
		buf_fini(&out);
	}
	if (rc < 0) {
		c->aborted = true;
		begin_close(c, rc);
		return rc;
	}
	return 0;
}

/* An open failed after the stream handle was initialised. */
static int abort_io(struct wire_chan *c, int rc)
{
	c->aborted = true;
	c->closing = true;
	c->open_handles = 1;
	c->io.handle.data = c;
	uv_close(&c->io.handle, on_handle_closed);
	return rc;
}

int wire_chan_open(uv_loop_t *loop, int fd, bool server,
		   const struct wire_chan_config *cfg,
		   const struct wire_chan_callbacks *cb, void *data,
		   struct wire_chan **out)
{
	int domain = 0;
	socklen_t dlen = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	struct wire_chan *c;
	int rc = chan_new(loop, server, cfg, cb, data, &c);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	if (domain == AF_UNIX) {
		uv_pipe_init(loop, &c->io.pipe, 0);
		rc = uv_pipe_open(&c->io.pipe, fd);
	} else {
		uv_tcp_init(loop, &c->io.tcp);
		rc = uv_tcp_open(&c->io.tcp, fd);
		if (rc == 0)
			uv_tcp_nodelay(&c->io.tcp, 1);
	}
	if (rc < 0) {
		close(fd); /* not adopted by the handle */
		return abort_io(c, rc);
	}
	rc = chan_start(c);
	if (rc == 0)
		*out = c;
	return rc;
}

int wire_chan_accept(uv_loop_t *loop, uv_stream_t *listener,
		     const struct wire_chan_config *cfg,
		     const struct wire_chan_callbacks *cb, void *data,
		     struct wire_chan **out)
{
	struct wire_chan *c;
	int rc = chan_new(loop, true, cfg, cb, data, &c);
	if (rc < 0)
		return rc;
	uv_tcp_init(loop, &c->io.tcp);
	rc = uv_accept(listener, &c->io.stream);
	if (rc < 0)
		return abort_io(c, rc);
	uv_tcp_nodelay(&c->io.tcp, 1);
	rc = chan_start(c);
	if (rc == 0)
		*out = c;
	return rc;
}

static void on_connect(uv_connect_t *req, int status)
{
	struct wire_chan *c = req->data;
	if (c->closing)
		return;
	if (status < 0) {
		fail(c, status, LOG_LEVEL_WARN, "connect failed");
		return;
	}
	uv_tcp_nodelay(&c->io.tcp, 1);
	c->io_ready = true;
	int rc = uv_read_start(&c->io.stream, on_alloc, on_read);
	if (rc == 0 && !c->handshaking) {
		c->connected = true;
		c->cb.connected(c, &c->peer);
		return;
	}
	if (rc == 0) {
		struct buf out;
		buf_init(&out, WIRE_HS_MAX);
		rc = wire__hs_start(&c->hs, &out);
		if (rc == 0)
			rc = queue_frame(c, out.data, out.len, false);
		buf_fini(&out);
	}
	if (rc < 0)
		fail(c, rc, LOG_LEVEL_WARN, "cannot start the handshake");
}

int wire_chan_connect(uv_loop_t *loop, const struct sockaddr *addr,
		      const struct wire_chan_config *cfg,
		      const struct wire_chan_callbacks *cb, void *data,
		      struct wire_chan **out)
{
	struct wire_chan *c;
	int rc = chan_new(loop, false, cfg, cb, data, &c);
	if (rc < 0)
		return rc;
	uv_tcp_init(loop, &c->io.tcp);
	c->io.handle.data = c;
	c->creq.data = c;
	rc = uv_tcp_connect(&c->creq, &c->io.tcp, addr, on_connect);
	if (rc < 0)
		return abort_io(c, rc);
	/* The timer bounds the connect and the handshake together; a plain
	 * channel reports connected() from on_connect() instead. */
	c->timer.data = c;
	c->open_handles = 2;
	uv_timer_init(loop, &c->timer);
	if (c->handshaking)
		uv_timer_start(&c->timer, on_timer, c->cfg.handshake_timeout_ms,
			       0);
	*out = c;
	return 0;
}
