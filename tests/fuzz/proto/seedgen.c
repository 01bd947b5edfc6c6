/*
 * Writes the seed corpora of the proto fuzz targets from the fixture: a
 * genuine message of each kind (ClientHello, ServerHello, ClientFinish in
 * both modes, certificates, a token, framed streams). Run by hand when the
 * messages change: proto-fuzz-seeds tests/fuzz/proto/corpus
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"
#include "proto/handshake.h"

static const char *root;

static void put(const char *dir, const char *name, uint8_t first,
		const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", root, dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", root, dir, name);
	FILE *f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(1);
	}
	if (first != 0xff)
		fputc(first, f);
	fwrite(data, 1, len, f);
	fclose(f);
}

static void handshake_seeds(const struct fixture *fx, int join)
{
	const struct wire_chan_config *ccfg =
		join ? &fx->join_client : &fx->client;
	const char *mode = join ? "join" : "cert";
	struct wire_hs c, s;
	struct buf ch, sh, cf;
	buf_init(&ch, WIRE_HS_MAX);
	buf_init(&sh, WIRE_HS_MAX);
	buf_init(&cf, WIRE_HS_MAX);
	if (wire__hs_init(&c, false, ccfg) || wire__hs_start(&c, &ch) ||
	    wire__hs_init(&s, true, &fx->server) ||
	    wire__hs_recv(&s, (uint8_t *)ch.data, ch.len, 1800000000, &sh) ||
	    wire__hs_recv(&c, (uint8_t *)sh.data, sh.len, 1800000000, &cf) ||
	    wire__hs_recv(&s, (uint8_t *)cf.data, cf.len, 1800000000, NULL)) {
		fprintf(stderr, "seedgen: handshake failed: %s %s\n",
			c.why ? c.why : "", s.why ? s.why : "");
		exit(1);
	}
	put("client_hello", mode, 0xff, ch.data, ch.len);
	put("server_hello", mode, (uint8_t)join, sh.data, sh.len);
	put("client_finish", mode, (uint8_t)join, cf.data, cf.len);
	buf_fini(&ch);
	buf_fini(&sh);
	buf_fini(&cf);
	wire__hs_fini(&c);
	wire__hs_fini(&s);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: proto-fuzz-seeds CORPUS-DIR\n");
		return 2;
	}
	root = argv[1];
	mkdir(root, 0755);
	const struct fixture *fx = fixture_get();
	handshake_seeds(fx, 0);
	handshake_seeds(fx, 1);
	put("cert", "manager", 0xff, fx->mgr_cert, fx->mgr_cert_len);
	put("cert", "worker", 0xff, fx->wrk_cert, fx->wrk_cert_len);
	char tok[WIRE_TOKEN_LEN + 1];
	wire_token_format(&fx->token, tok);
	put("token", "valid", 0xff, tok, strlen(tok));
	static const uint8_t two[] = {0, 0, 0, 3, 'a', 'b', 'c', 0,
				      0, 0, 0, 0, 0,   0,   1,	 'z'};
	put("frame", "three-frames-cut-at-5", 5, two, sizeof(two));
	static const uint8_t empty[] = {0, 0, 0, 0};
	put("frame", "empty-frame", 2, empty, sizeof(empty));
	static const uint8_t big[] = {0, 0, 0x10, 0x01, 1, 2, 3};
	put("frame", "over-limit", 0, big, sizeof(big));
	return 0;
}
