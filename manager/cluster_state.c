/*
 * This node's swarm membership on disk (manager.h, "State on disk").
 *
 * Files are written whole to "<name>.tmp" with their final mode, fsynced,
 * renamed over the old one and the directory fsynced, so a crash leaves
 * either version. Loading checks every file against the others: the
 * identity key must be the one the certificate names, the certificate
 * must be signed by the recorded root for the recorded cluster, node and
 * role, and a root key, when present, must match the root public key. A
 * file that fails any of these is reported as SHOAL_ECORRUPT naming the
 * file; nothing is guessed or repaired.
 */
#include "common/alloc.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "manager/lock.h"
#include "manager/manager.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAX (64 * 1024)

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int mkdir_mode(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	if (chmod(path, mode) < 0)
		return -errno;
	return 0;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* Write @len bytes of @data to @dir/@name atomically with @mode. */
static int write_file(const char *dir, const char *name, const void *data,
		      size_t len, mode_t mode)
{
	char path[4200], tmp[4210];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	const uint8_t *p = data;
	int rc = 0;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto err_close;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		rc = -errno;
		goto err_close;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	return sync_dir(dir);
err_close:
	close(fd);
	unlink(tmp);
	return rc;
}

/* Read @dir/@name whole into *@out (owned, NUL-terminated). */
static int read_file(const char *dir, const char *name, uint8_t **out,
		     size_t *len)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uint8_t *buf = shoal_malloc(STATE_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, STATE_MAX + 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = -errno;
			close(fd);
			shoal_free(buf);
			return rc;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if (have > STATE_MAX) {
			close(fd);
			shoal_free(buf);
			return -EFBIG;
		}
	}
	close(fd);
	buf[have] = '\0';
	*out = buf;
	*len = have;
	return 0;
}

static void dirs(const char *root, char *certs, char *swarm, size_t cap)
{
	snprintf(certs, cap, "%s/certs", root);
	snprintf(swarm, cap, "%s/swarm", root);
}

static json_t *hexval(const uint8_t *p, size_t n)
{
	char hex[2 * 64 + 1];
	shoal_hex(p, n, hex);
	return json_string(hex);
}

/* SwarmSpec.Raft as this node applies it at start (0: the default). */
static json_t *raft_json(const struct swarm_raft *r)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "ElectionTick",
			 (json_int_t)r->election_tick, "HeartbeatTick",
			 (json_int_t)r->heartbeat_tick, "SnapshotInterval",
			 (json_int_t)r->snapshot_interval, "KeepOldSnapshots",
			 (json_int_t)r->keep_old_snapshots,
			 "LogEntriesForSlowFollowers",
			 (json_int_t)r->log_entries_for_slow_followers);
}

/* The Raft settings of a state file, checked as a spec's are; absent in
 * files from before them: the defaults. */
static int parse_raft(const json_t *o, struct swarm_raft *r)
{
	const json_t *raft = json_object_get(o, "Raft");
	json_t *spec = NULL;
	char err[160];
	memset(r, 0, sizeof(*r));
	if (!raft)
		return 0;
	json_t *in = json_pack("{s:O}", "Raft", raft);
	int rc = in ? swarm_spec_merge(NULL, in, &spec, err, sizeof(err))
		    : -ENOMEM;
	json_decref(in);
	if (rc < 0)
		return -EINVAL;
	struct swarm_state tmp = {0};
	swarm_spec_to_state(spec, &tmp);
	json_decref(spec);
	*r = tmp.raft;
	return 0;
}

static json_t *state_json(const struct swarm_state *st)
{
	json_t *o = json_object();
	json_t *mgrs = json_array();
	if (!o || !mgrs) {
		json_decref(o);
		json_decref(mgrs);
		return NULL;
	}
	int rc = 0;
	json_t *ids = json_array();
	for (size_t i = 0; i < st->nmanagers; i++) {
		rc |= json_array_append_new(mgrs, json_string(st->managers[i]));
		rc |= json_array_append_new(ids,
					    json_string(st->manager_ids[i]));
	}
	rc |= jsonx_set(o, "ManagerIDs", ids);
	rc |= jsonx_set(o, "ClusterID", json_string(st->cluster_id));
	rc |= jsonx_set(o, "NodeID", json_string(st->node_id));
	rc |= jsonx_set(o, "Role", json_string(wire_role_name(st->role)));
	rc |= jsonx_set(o, "RootPublicKey", hexval(st->root_pk, WIRE_PK_LEN));
	if (st->has_tokens) {
		rc |= jsonx_set(
			o, "WorkerSecret",
			hexval(st->worker_token.secret, WIRE_TOKEN_SECRET_LEN));
		rc |= jsonx_set(o, "ManagerSecret",
				hexval(st->manager_token.secret,
				       WIRE_TOKEN_SECRET_LEN));
	}
	rc |= jsonx_set(o, "NextSerial",
			json_integer((json_int_t)st->next_serial));
	rc |= jsonx_set(o, "ListenAddr", json_string(st->listen_addr));
	rc |= jsonx_set(o, "AdvertiseAddr", json_string(st->advertise_addr));
	rc |= jsonx_set(o, "Managers", mgrs);
	rc |= jsonx_set(o, "HeartbeatMs", json_integer(st->heartbeat_ms));
	rc |= jsonx_set(o, "CertExpirySeconds",
			json_integer(st->cert_expiry_s));
	rc |= jsonx_set(o, "Raft", raft_json(&st->raft));
	rc |= jsonx_set(o, "CreatedNs", json_integer(st->created_ns));
	rc |= jsonx_set(o, "Founder", json_boolean(st->founder));
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* write_file(), sealed with the DEK when the node has one. */
static int put_file(const struct swarm_state *st, const char *dir,
		    const char *name, const void *data, size_t len, mode_t mode)
{
	if (!st->has_dek)
		return write_file(dir, name, data, len, mode);
	uint8_t *c;
	size_t clen;
	int rc = swarm_lock_seal(st->dek, data, len, &c, &clen);
	if (rc)
		return rc;
	rc = write_file(dir, name, c, clen, mode);
	shoal_free(c);
	return rc;
}

/* read_file(), opening a sealed file with @st's DEK. A file in the clear
 * is still read: it was written before the node had a DEK. */
static int get_file(const struct swarm_state *st, const char *dir,
		    const char *name, uint8_t **out, size_t *len)
{
	int rc = read_file(dir, name, out, len);
	if (rc || !swarm_lock_is_sealed(*out, *len))
		return rc;
	rc = st->has_dek ? swarm_lock_open(st->dek, *out, *len, len)
			 : SHOAL_ECORRUPT;
	if (rc) {
		shoal_free(*out);
		return rc;
	}
	(*out)[*len] = '\0';
	return 0;
}

int swarm_state_save(const char *data_root, const struct swarm_state *st,
		     char *err, size_t errlen)
{
	char certs[4150], swarm[4150];
	dirs(data_root, certs, swarm, sizeof(certs));
	int rc = mkdir_mode(certs, 0700);
	if (rc == 0)
		rc = mkdir_mode(swarm, 0700);
	if (rc < 0)
		return fail(err, errlen, rc, "cannot create %s: %s", certs,
			    shoal_strerror(rc));
	if (rc == 0 && st->has_dek)
		rc = swarm_lock_dek_write(data_root, st->dek,
					  st->autolock ? st->kek : NULL);
	if (rc < 0)
		return fail(err, errlen, rc, "cannot write %s/dek: %s", swarm,
			    shoal_strerror(rc));
	rc = put_file(st, certs, "node.key", st->identity.sk, WIRE_SK_LEN,
		      0600);
	if (rc == 0)
		rc = write_file(certs, "node.crt", st->cert, st->cert_len,
				0644);
	if (rc == 0 && st->has_root_sk) {
		rc = put_file(st, certs, "root.key", st->root_sk, WIRE_SK_LEN,
			      0600);
	} else if (rc == 0) {
		/* A demoted manager keeps no CA key. */
		char path[4200];
		snprintf(path, sizeof(path), "%s/root.key", certs);
		if (unlink(path) < 0 && errno != ENOENT)
			rc = -errno;
	}
	if (rc < 0)
		return fail(err, errlen, rc, "cannot write %s: %s", certs,
			    shoal_strerror(rc));
	json_t *o = state_json(st);
	size_t len;
	char *text = o ? jsonx_dump(o, &len) : NULL;
	json_decref(o);
	if (!text)
		return fail(err, errlen, -ENOMEM, "out of memory");
	rc = put_file(st, swarm, "state.json", text, len, 0600);
	shoal_wipe(text, len);
	shoal_free(text);
	if (rc < 0)
		return fail(err, errlen, rc, "cannot write %s/state.json: %s",
			    swarm, shoal_strerror(rc));
	/* No DEK (a worker): the files above are in the clear now, so a
	 * DEK file left from when this node was a manager goes last. */
	char path[4200];
	snprintf(path, sizeof(path), "%s/dek", swarm);
	if (!st->has_dek && unlink(path) < 0 && errno != ENOENT) {
		rc = -errno;
		return fail(err, errlen, rc, "cannot remove %s: %s", path,
			    shoal_strerror(rc));
	}
	return 0;
}

static int unhex_field(const json_t *o, const char *key, uint8_t *out, size_t n)
{
	const char *s = jsonx_str(o, key, NULL);
	if (!s || strlen(s) != 2 * n)
		return -EINVAL;
	return shoal_unhex(s, out, n);
}

static int copy_str(const json_t *o, const char *key, char *out, size_t cap,
		    bool required)
{
	const char *s = jsonx_str(o, key, required ? NULL : "");
	if (!s || strlen(s) >= cap)
		return -EINVAL;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int parse_state(const json_t *o, struct swarm_state *st)
{
	const char *role = jsonx_str(o, "Role", "");
	if (copy_str(o, "ClusterID", st->cluster_id, sizeof(st->cluster_id),
		     true) ||
	    copy_str(o, "NodeID", st->node_id, sizeof(st->node_id), true) ||
	    copy_str(o, "ListenAddr", st->listen_addr, sizeof(st->listen_addr),
		     false) ||
	    copy_str(o, "AdvertiseAddr", st->advertise_addr,
		     sizeof(st->advertise_addr), false) ||
	    unhex_field(o, "RootPublicKey", st->root_pk, WIRE_PK_LEN))
		return -EINVAL;
	if (strcmp(role, "manager") == 0)
		st->role = WIRE_ROLE_MANAGER;
	else if (strcmp(role, "worker") == 0)
		st->role = WIRE_ROLE_WORKER;
	else
		return -EINVAL;
	if (json_object_get(o, "WorkerSecret")) {
		if (unhex_field(o, "WorkerSecret", st->worker_token.secret,
				WIRE_TOKEN_SECRET_LEN) ||
		    unhex_field(o, "ManagerSecret", st->manager_token.secret,
				WIRE_TOKEN_SECRET_LEN))
			return -EINVAL;
		shoal_sha256(st->root_pk, WIRE_PK_LEN,
			     st->worker_token.root_digest);
		memcpy(st->manager_token.root_digest,
		       st->worker_token.root_digest, WIRE_TOKEN_DIGEST_LEN);
		st->has_tokens = true;
	}
	const json_t *m = json_object_get(o, "Managers");
	if (!json_is_array(m) || json_array_size(m) > SWARM_MAX_MANAGERS)
		return -EINVAL;
	for (size_t i = 0; i < json_array_size(m); i++) {
		const char *a = json_string_value(json_array_get(m, i));
		if (!a || strlen(a) >= SWARM_ADDR_MAX)
			return -EINVAL;
		snprintf(st->managers[i], SWARM_ADDR_MAX, "%s", a);
	}
	st->nmanagers = json_array_size(m);
	const json_t *ids = json_object_get(o, "ManagerIDs");
	for (size_t i = 0; i < json_array_size(ids) && i < st->nmanagers; i++) {
		const char *id = json_string_value(json_array_get(ids, i));
		if (id && strlen(id) <= WIRE_ID_MAX)
			snprintf(st->manager_ids[i], WIRE_ID_MAX + 1, "%s", id);
	}
	int64_t hb = jsonx_int(o, "HeartbeatMs", SWARM_DEFAULT_HEARTBEAT_MS);
	if (hb < 10 || hb > 3600 * 1000)
		return -EINVAL;
	st->heartbeat_ms = (uint32_t)hb;
	st->next_serial = (uint64_t)jsonx_int(o, "NextSerial", 0);
	st->cert_expiry_s = jsonx_int(o, "CertExpirySeconds", 0);
	if (parse_raft(o, &st->raft) < 0)
		return -EINVAL;
	st->created_ns = jsonx_int(o, "CreatedNs", 0);
	st->founder = jsonx_bool(o, "Founder", false);
	return 0;
}

/* The identity, certificate and root key agree with the state. */
static const char *check_keys(const struct swarm_state *st)
{
	uint8_t pk[WIRE_PK_LEN];
	crypto_sign_ed25519_sk_to_pk(pk, st->identity.sk);
	memcpy((uint8_t *)st->identity.pk, pk, WIRE_PK_LEN);
	struct wire_cert_info info;
	/* Signature and fields at a time inside the window: an expired
	 * certificate still loads (renewal replaces it), a forged one not. */
	if (wire_cert_decode(st->cert, st->cert_len, &info) < 0 ||
	    wire_cert_verify(st->cert, st->cert_len, st->root_pk,
			     info.not_before, &info, NULL) < 0)
		return "certs/node.crt is not signed by the cluster's root";
	if (memcmp(info.public_key, pk, WIRE_PK_LEN) != 0)
		return "certs/node.crt is not for certs/node.key";
	if (info.role != st->role || strcmp(info.node_id, st->node_id) != 0 ||
	    strcmp(info.cluster_id, st->cluster_id) != 0)
		return "certs/node.crt names another node or cluster";
	if (st->has_root_sk) {
		crypto_sign_ed25519_sk_to_pk(pk, st->root_sk);
		if (memcmp(pk, st->root_pk, WIRE_PK_LEN) != 0)
			return "certs/root.key is not the cluster's root";
	}
	return NULL;
}

static int load_keys(const char *certs, struct swarm_state *st, char *err,
		     size_t errlen)
{
	uint8_t *data;
	size_t len;
	int rc = get_file(st, certs, "node.key", &data, &len);
	if (rc < 0)
		return fail(err, errlen, rc == -ENOENT ? SHOAL_ECORRUPT : rc,
			    "cannot read %s/node.key: %s", certs,
			    shoal_strerror(rc));
	if (len == WIRE_SK_LEN)
		memcpy(st->identity.sk, data, WIRE_SK_LEN);
	shoal_wipe(data, len);
	shoal_free(data);
	if (len != WIRE_SK_LEN)
		return fail(err, errlen, SHOAL_ECORRUPT,
			    "%s/node.key: wrong size", certs);
	rc = read_file(certs, "node.crt", &data, &len);
	if (rc < 0)
		return fail(err, errlen, rc == -ENOENT ? SHOAL_ECORRUPT : rc,
			    "cannot read %s/node.crt: %s", certs,
			    shoal_strerror(rc));
	if (len > 0 && len <= sizeof(st->cert))
		memcpy(st->cert, data, len);
	st->cert_len = len;
	shoal_free(data);
	if (len == 0 || len > sizeof(st->cert))
		return fail(err, errlen, SHOAL_ECORRUPT,
			    "%s/node.crt: wrong size", certs);
	rc = get_file(st, certs, "root.key", &data, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return fail(err, errlen, rc, "cannot read %s/root.key: %s",
			    certs, shoal_strerror(rc));
	if (len == WIRE_SK_LEN) {
		memcpy(st->root_sk, data, WIRE_SK_LEN);
		st->has_root_sk = true;
	}
	shoal_wipe(data, len);
	shoal_free(data);
	if (len != WIRE_SK_LEN)
		return fail(err, errlen, SHOAL_ECORRUPT,
			    "%s/root.key: wrong size", certs);
	return 0;
}

/* The DEK (and the KEK that opened it) into @st, if the node has one. */
static int load_dek(const char *data_root, const uint8_t *kek,
		    struct swarm_state *st, char *err, size_t errlen)
{
	bool locked = false;
	int rc = swarm_lock_dek_read(data_root, kek, st->dek, &locked);
	if (rc == -ENOENT)
		return 0;
	if (rc == -ENOKEY)
		return fail(err, errlen, rc, "swarm is locked");
	if (rc == -EKEYREJECTED)
		return fail(err, errlen, rc, "invalid key");
	if (rc < 0)
		return fail(err, errlen, rc, "cannot read %s/swarm/dek: %s",
			    data_root, shoal_strerror(rc));
	st->has_dek = true;
	st->autolock = locked;
	if (locked)
		memcpy(st->kek, kek, SWARM_KEY_LEN);
	return 0;
}

int swarm_state_load(const char *data_root, struct swarm_state *st, char *err,
		     size_t errlen)
{
	return swarm_state_unlock(data_root, NULL, st, err, errlen);
}

int swarm_state_unlock(const char *data_root, const uint8_t *kek,
		       struct swarm_state *st, char *err, size_t errlen)
{
	char certs[4150], swarm[4150];
	dirs(data_root, certs, swarm, sizeof(certs));
	memset(st, 0, sizeof(*st));
	uint8_t *text;
	size_t len;
	int rc = read_file(swarm, "state.json", &text, &len);
	if (rc == -ENOENT)
		return -ENOENT;
	if (rc == 0) {
		shoal_wipe(text, len);
		shoal_free(text);
		rc = load_dek(data_root, kek, st, err, errlen);
		if (rc < 0) {
			swarm_state_wipe(st);
			return rc;
		}
		rc = get_file(st, swarm, "state.json", &text, &len);
	}
	if (rc < 0)
		return fail(err, errlen, rc, "cannot read %s/state.json: %s",
			    swarm, shoal_strerror(rc));
	json_t *o = NULL;
	char jerr[160];
	rc = jsonx_parse_object((const char *)text, len, &o, jerr,
				sizeof(jerr));
	shoal_wipe(text, len);
	shoal_free(text);
	if (rc == -ENOMEM)
		return fail(err, errlen, rc, "out of memory");
	if (rc < 0)
		return fail(err, errlen, SHOAL_ECORRUPT, "%s/state.json: %s",
			    swarm, jerr);
	rc = parse_state(o, st);
	json_decref(o);
	if (rc < 0) {
		swarm_state_wipe(st);
		return fail(err, errlen, SHOAL_ECORRUPT,
			    "%s/state.json: a field is missing or malformed",
			    swarm);
	}
	rc = load_keys(certs, st, err, errlen);
	const char *why = rc == 0 ? check_keys(st) : NULL;
	if (why)
		rc = fail(err, errlen, SHOAL_ECORRUPT, "%s/%s", data_root, why);
	if (rc < 0)
		swarm_state_wipe(st);
	return rc;
}

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

int swarm_state_remove(const char *data_root)
{
	int rc = swarm_state_remove_files(data_root);
	int r = swarm_state_remove_raft(data_root);
	return rc ? rc : r;
}

int swarm_state_remove_files(const char *data_root)
{
	static const char *const files[] = {
		"certs/node.key",   "certs/node.crt",	"certs/root.key",
		"swarm/state.json", "swarm/store.snap", "swarm/dek",
	};
	char path[4200];
	int rc = 0;
	/* state.json first: without it the node is in no swarm. */
	snprintf(path, sizeof(path), "%s/swarm/state.json", data_root);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", data_root, files[i]);
		if (unlink(path) < 0 && errno != ENOENT && rc == 0)
			rc = -errno;
	}
	return rc;
}

int swarm_state_remove_raft(const char *data_root)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/raft", data_root);
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

void swarm_state_wipe(struct swarm_state *st)
{
	shoal_wipe(st, sizeof(*st));
}
