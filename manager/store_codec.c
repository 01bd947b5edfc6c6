/*
 * The store's two encodings: batches (what is proposed through Raft) and
 * snapshots (the whole store). Both are documented byte for byte in
 * docs/store.md; they are the interim wire format until the store's
 * messages move to proto/, and they stay what the fuzz targets exercise.
 *
 * Integers are big-endian and fixed width; strings and blobs are length
 * prefixed. Both decoders are strict: every length is bounded before it is
 * used, every flag and kind must be known, ids and names must follow the
 * character rules, nothing may trail the last field, and the snapshot's
 * objects must come sorted by id. Strictness makes the encodings canonical
 * (decode then encode gives back the same bytes), which is what lets two
 * managers compare stores by comparing snapshot bytes, and is what the
 * fuzz targets check. A decoder never trusts a count to size an
 * allocation: arrays grow only as data actually arrives.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/map.h"
#include "manager/store.h"
#include "manager/store_int.h"

static int fail(char *err, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t cap, const char *fmt, ...)
{
	if (err && cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* ------------------------------------------------------ readers, writers */

bool store__rd_bytes(struct store_rd *r, size_t n, const uint8_t **p)
{
	if (r->left < n)
		return false;
	*p = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

static bool rd_be(struct store_rd *r, size_t n, uint64_t *v)
{
	const uint8_t *p;
	if (!store__rd_bytes(r, n, &p))
		return false;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++)
		x = (x << 8) | p[i];
	*v = x;
	return true;
}

bool store__rd_u8(struct store_rd *r, uint8_t *v)
{
	uint64_t x;
	if (!rd_be(r, 1, &x))
		return false;
	*v = (uint8_t)x;
	return true;
}

bool store__rd_u16(struct store_rd *r, uint16_t *v)
{
	uint64_t x;
	if (!rd_be(r, 2, &x))
		return false;
	*v = (uint16_t)x;
	return true;
}

bool store__rd_u32(struct store_rd *r, uint32_t *v)
{
	uint64_t x;
	if (!rd_be(r, 4, &x))
		return false;
	*v = (uint32_t)x;
	return true;
}

bool store__rd_u64(struct store_rd *r, uint64_t *v)
{
	return rd_be(r, 8, v);
}

static int wr_be(struct buf *b, uint64_t v, size_t n)
{
	uint8_t tmp[8];
	for (size_t i = 0; i < n; i++)
		tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return buf_append(b, tmp, n);
}

int store__wr_u8(struct buf *b, uint8_t v)
{
	return wr_be(b, v, 1);
}

int store__wr_u16(struct buf *b, uint16_t v)
{
	return wr_be(b, v, 2);
}

int store__wr_u32(struct buf *b, uint32_t v)
{
	return wr_be(b, v, 4);
}

int store__wr_u64(struct buf *b, uint64_t v)
{
	return wr_be(b, v, 8);
}

static int wr_str16(struct buf *b, const char *s, size_t len)
{
	int rc = store__wr_u16(b, (uint16_t)len);
	return rc ? rc : buf_append(b, s, len);
}

static int wr_blob32(struct buf *b, const void *p, size_t len)
{
	int rc = store__wr_u32(b, (uint32_t)len);
	return rc ? rc : buf_append(b, p, len);
}

static bool rd_str16(struct store_rd *r, size_t max, const char **s,
		     size_t *len)
{
	uint16_t n;
	const uint8_t *p;
	struct store_rd save = *r;
	if (!store__rd_u16(r, &n) || n > max || !store__rd_bytes(r, n, &p)) {
		*r = save;
		return false;
	}
	*s = (const char *)p;
	*len = n;
	return true;
}

static bool rd_blob32(struct store_rd *r, const uint8_t **p, size_t *len)
{
	uint32_t n;
	struct store_rd save = *r;
	if (!store__rd_u32(r, &n) || n > STORE_BLOB_MAX ||
	    !store__rd_bytes(r, n, p)) {
		*r = save;
		return false;
	}
	*len = n;
	return true;
}

/* ------------------------------------------------------------- batches */

#define BATCH_HEADER_LEN (STORE_MAGIC_LEN + 8 + 4)

void store_batch_init(struct store_batch *b, int64_t time_ns)
{
	buf_init(&b->out, STORE_BATCH_MAX);
	b->nops = 0;
	b->err = buf_append(&b->out, STORE_BATCH_MAGIC, STORE_MAGIC_LEN);
	if (!b->err)
		b->err = store__wr_u64(&b->out, (uint64_t)time_ns);
	if (!b->err)
		b->err = store__wr_u32(&b->out, 0); /* patched at finish */
}

void store_batch_fini(struct store_batch *b)
{
	buf_fini(&b->out);
	b->nops = 0;
}

static int batch_op_head(struct store_batch *b, enum store_op_kind kind,
			 enum store_table t, uint8_t flags, uint64_t version,
			 const char *id)
{
	if (b->err)
		return b->err;
	if ((unsigned)t >= STORE_TABLE_COUNT || !id ||
	    !store__valid_id(id, strlen(id)) || b->nops >= STORE_BATCH_OPS_MAX)
		return b->err = -EINVAL;
	int rc = store__wr_u8(&b->out, (uint8_t)kind);
	if (!rc)
		rc = store__wr_u8(&b->out, (uint8_t)t);
	if (!rc)
		rc = store__wr_u8(&b->out, flags);
	if (!rc)
		rc = store__wr_u64(&b->out, version);
	if (!rc)
		rc = wr_str16(&b->out, id, strlen(id));
	return b->err = rc;
}

static int batch_blobs(struct store_batch *b, const void *spec, size_t spec_len,
		       const void *status, size_t status_len)
{
	int rc = 0;
	if (spec)
		rc = wr_blob32(&b->out, spec, spec_len);
	if (!rc && status)
		rc = wr_blob32(&b->out, status, status_len);
	if (!rc)
		b->nops++;
	return b->err = rc;
}

static uint8_t blob_flags(const void *spec, const void *status)
{
	return (uint8_t)((spec ? STORE_OPF_SPEC : 0) |
			 (status ? STORE_OPF_STATUS : 0));
}

int store_batch_create(struct store_batch *b, enum store_table t,
		       const char *id, const char *name, const void *spec,
		       size_t spec_len, const void *status, size_t status_len)
{
	size_t nlen = name ? strlen(name) : 0;
	if (!b->err && (!spec || spec_len > STORE_BLOB_MAX ||
			(status && status_len > STORE_BLOB_MAX) ||
			(nlen && !store__valid_name(name, nlen))))
		b->err = -EINVAL;
	int rc = batch_op_head(b, STORE_OP_CREATE, t, blob_flags(spec, status),
			       0, id);
	if (!rc)
		rc = b->err = wr_str16(&b->out, name ? name : "", nlen);
	return rc ? rc : batch_blobs(b, spec, spec_len, status, status_len);
}

int store_batch_update(struct store_batch *b, enum store_table t,
		       const char *id, uint64_t version, const void *spec,
		       size_t spec_len, const void *status, size_t status_len)
{
	if (!b->err && ((!spec && !status) || version == 0 ||
			(spec && spec_len > STORE_BLOB_MAX) ||
			(status && status_len > STORE_BLOB_MAX)))
		b->err = -EINVAL;
	int rc = batch_op_head(b, STORE_OP_UPDATE, t, blob_flags(spec, status),
			       version, id);
	return rc ? rc : batch_blobs(b, spec, spec_len, status, status_len);
}

int store_batch_delete(struct store_batch *b, enum store_table t,
		       const char *id, uint64_t version)
{
	if (!b->err && version == 0)
		b->err = -EINVAL;
	int rc = batch_op_head(b, STORE_OP_DELETE, t, 0, version, id);
	return rc ? rc : batch_blobs(b, NULL, 0, NULL, 0);
}

int store_batch_finish(struct store_batch *b, uint8_t **out, size_t *len)
{
	int rc = b->err;
	if (!rc && b->nops == 0)
		rc = -EINVAL;
	if (rc) {
		store_batch_fini(b);
		return rc;
	}
	uint8_t *p = (uint8_t *)b->out.data + STORE_MAGIC_LEN + 8;
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(b->nops >> (8 * (3 - i)));
	*out = (uint8_t *)buf_take(&b->out, len);
	b->nops = 0;
	return 0;
}

/* The key that detects one object twice in a batch: table byte + id. */
static int seen_once(struct hmap *seen, const struct store_op *op)
{
	char key[1 + STORE_ID_MAX];
	key[0] = (char)op->table;
	memcpy(key + 1, op->id, op->id_len);
	if (hmap_has(seen, key, 1 + op->id_len))
		return -EEXIST;
	return hmap_put(seen, key, 1 + op->id_len, NULL, NULL);
}

static int decode_op(struct store_rd *r, struct store_op *op, char *err,
		     size_t cap)
{
	uint8_t kind, table, flags;
	memset(op, 0, sizeof(*op));
	if (!store__rd_u8(r, &kind) || !store__rd_u8(r, &table) ||
	    !store__rd_u8(r, &flags) || !store__rd_u64(r, &op->version))
		return fail(err, cap, "truncated operation header");
	if (kind < STORE_OP_CREATE || kind > STORE_OP_DELETE)
		return fail(err, cap, "unknown operation kind %u", kind);
	if (table >= STORE_TABLE_COUNT)
		return fail(err, cap, "unknown table %u", table);
	if (flags & ~(STORE_OPF_SPEC | STORE_OPF_STATUS))
		return fail(err, cap, "unknown operation flags 0x%02x", flags);
	op->kind = kind;
	op->table = table;
	op->has_spec = flags & STORE_OPF_SPEC;
	op->has_status = flags & STORE_OPF_STATUS;
	if (!rd_str16(r, STORE_ID_MAX, &op->id, &op->id_len) ||
	    !store__valid_id(op->id, op->id_len))
		return fail(err, cap, "missing or invalid object id");
	if (kind == STORE_OP_CREATE) {
		if (op->version != 0 || !op->has_spec)
			return fail(err, cap,
				    "create of %.*s needs a spec "
				    "and no version",
				    (int)op->id_len, op->id);
		if (!rd_str16(r, STORE_NAME_MAX, &op->name, &op->name_len) ||
		    (op->name_len &&
		     !store__valid_name(op->name, op->name_len)))
			return fail(err, cap, "invalid name for %.*s",
				    (int)op->id_len, op->id);
	} else if (op->version == 0) {
		return fail(err, cap, "%s of %.*s needs a version",
			    kind == STORE_OP_UPDATE ? "update" : "delete",
			    (int)op->id_len, op->id);
	}
	if (kind == STORE_OP_UPDATE && !flags)
		return fail(err, cap, "update of %.*s changes nothing",
			    (int)op->id_len, op->id);
	if (kind == STORE_OP_DELETE && flags)
		return fail(err, cap, "delete of %.*s carries data",
			    (int)op->id_len, op->id);
	if (op->has_spec && !rd_blob32(r, &op->spec, &op->spec_len))
		return fail(err, cap, "truncated or oversized spec");
	if (op->has_status && !rd_blob32(r, &op->status, &op->status_len))
		return fail(err, cap, "truncated or oversized status");
	return 0;
}

int store_batch_decode(const void *data, size_t len, int64_t *time_ns,
		       struct store_op **ops, uint32_t *nops, char *err,
		       size_t err_cap)
{
	struct store_rd r = {data, len};
	const uint8_t *magic;
	uint64_t t;
	uint32_t n;
	if (len > STORE_BATCH_MAX)
		return fail(err, err_cap, "batch of %zu bytes over the limit",
			    len);
	if (!store__rd_bytes(&r, STORE_MAGIC_LEN, &magic) ||
	    memcmp(magic, STORE_BATCH_MAGIC, STORE_MAGIC_LEN) != 0)
		return fail(err, err_cap, "not a store batch");
	if (!store__rd_u64(&r, &t) || !store__rd_u32(&r, &n))
		return fail(err, err_cap, "truncated batch header");
	if (n == 0 || n > STORE_BATCH_OPS_MAX)
		return fail(err, err_cap, "batch of %u operations", n);

	struct hmap seen = HMAP_INIT;
	struct store_op *arr = NULL;
	uint32_t got = 0, cap = 0;
	int rc = 0;
	while (got < n) {
		if (got == cap) {
			uint32_t ncap = cap ? cap * 2 : 8;
			struct store_op *na =
				shoal_realloc(arr, ncap * sizeof(*arr));
			if (!na) {
				rc = -ENOMEM;
				goto err_free;
			}
			arr = na;
			cap = ncap;
		}
		rc = decode_op(&r, &arr[got], err, err_cap);
		if (rc)
			goto err_free;
		rc = seen_once(&seen, &arr[got]);
		if (rc == -EEXIST)
			rc = fail(err, err_cap, "%.*s appears twice in batch",
				  (int)arr[got].id_len, arr[got].id);
		if (rc)
			goto err_free;
		got++;
	}
	if (r.left) {
		rc = fail(err, err_cap, "%zu bytes after the last operation",
			  r.left);
		goto err_free;
	}
	hmap_fini(&seen);
	*time_ns = (int64_t)t;
	*ops = arr;
	*nops = n;
	return 0;

err_free:
	hmap_fini(&seen);
	shoal_free(arr);
	return rc;
}

/* ----------------------------------------------------------- snapshots */

static int snapshot_object(struct buf *out, const struct store_object *o)
{
	int rc = wr_str16(out, o->id, strlen(o->id));
	if (!rc)
		rc = wr_str16(out, o->name, strlen(o->name));
	if (!rc)
		rc = store__wr_u64(out, o->version);
	if (!rc)
		rc = store__wr_u64(out, (uint64_t)o->created_ns);
	if (!rc)
		rc = store__wr_u64(out, (uint64_t)o->updated_ns);
	if (!rc)
		rc = wr_blob32(out, o->spec, o->spec_len);
	if (!rc)
		rc = wr_blob32(out, o->status, o->status_len);
	return rc;
}

int store_snapshot(const struct store *s, struct buf *out)
{
	int rc = buf_append(out, STORE_SNAP_MAGIC, STORE_MAGIC_LEN);
	if (!rc)
		rc = store__wr_u64(out, s->applied);
	if (!rc)
		rc = store__wr_u8(out, STORE_TABLE_COUNT);
	for (int t = 0; !rc && t < STORE_TABLE_COUNT; t++) {
		const struct store_object **objs;
		size_t n;
		rc = store__sorted(&s->tabs[t], &objs, &n);
		if (rc)
			break;
		rc = store__wr_u32(out, (uint32_t)n);
		for (size_t i = 0; !rc && i < n; i++)
			rc = snapshot_object(out, objs[i]);
		shoal_free(objs);
	}
	return rc;
}

/* Bytewise order of ids, shorter first on a common prefix (as strcmp). */
static int id_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

struct snap_obj {
	const char *id, *name;
	size_t id_len, name_len;
	uint64_t version, created, updated;
	const uint8_t *spec, *status;
	size_t spec_len, status_len;
};

static int decode_snap_obj(struct store_rd *r, struct snap_obj *o,
			   uint64_t applied, char *err, size_t cap)
{
	if (!rd_str16(r, STORE_ID_MAX, &o->id, &o->id_len) ||
	    !store__valid_id(o->id, o->id_len))
		return fail(err, cap, "missing or invalid object id");
	if (!rd_str16(r, STORE_NAME_MAX, &o->name, &o->name_len) ||
	    (o->name_len && !store__valid_name(o->name, o->name_len)))
		return fail(err, cap, "invalid name for %.*s", (int)o->id_len,
			    o->id);
	if (!store__rd_u64(r, &o->version) || !store__rd_u64(r, &o->created) ||
	    !store__rd_u64(r, &o->updated))
		return fail(err, cap, "truncated object %.*s", (int)o->id_len,
			    o->id);
	if (o->version == 0 || o->version > applied)
		return fail(err, cap,
			    "object %.*s has version %llu beyond "
			    "index %llu",
			    (int)o->id_len, o->id,
			    (unsigned long long)o->version,
			    (unsigned long long)applied);
	if (!rd_blob32(r, &o->spec, &o->spec_len) ||
	    !rd_blob32(r, &o->status, &o->status_len))
		return fail(err, cap, "truncated or oversized data in %.*s",
			    (int)o->id_len, o->id);
	return 0;
}

static int decode_table(struct store_rd *r, enum store_table t,
			struct store_tab *tab, uint64_t applied, char *err,
			size_t cap)
{
	uint32_t n;
	struct snap_obj prev = {0}, o;
	if (!store__rd_u32(r, &n))
		return fail(err, cap, "truncated table %s",
			    store_table_name(t));
	for (uint32_t i = 0; i < n; i++) {
		int rc = decode_snap_obj(r, &o, applied, err, cap);
		if (rc)
			return rc;
		if (i && id_cmp(prev.id, prev.id_len, o.id, o.id_len) >= 0)
			return fail(err, cap, "%s: %.*s out of order",
				    store_table_name(t), (int)o.id_len, o.id);
		struct store_object *obj = store__object_new(
			t, o.id, o.id_len, o.name, o.name_len, o.spec,
			o.spec_len, o.status, o.status_len);
		if (!obj)
			return -ENOMEM;
		obj->version = o.version;
		obj->created_ns = (int64_t)o.created;
		obj->updated_ns = (int64_t)o.updated;
		rc = store__tab_insert(tab, obj);
		if (rc) {
			store_object_unref(obj);
			if (rc == -EEXIST)
				return fail(err, cap,
					    "%s: name %.*s taken twice",
					    store_table_name(t),
					    (int)o.name_len, o.name);
			return rc;
		}
		prev = o;
	}
	return 0;
}

int store__snapshot_decode(const uint8_t *data, size_t len,
			   struct store_tab *tabs, uint64_t *applied, char *err,
			   size_t err_cap)
{
	struct store_rd r = {data, len};
	const uint8_t *magic;
	uint8_t ntab;
	if (!store__rd_bytes(&r, STORE_MAGIC_LEN, &magic) ||
	    memcmp(magic, STORE_SNAP_MAGIC, STORE_MAGIC_LEN) != 0)
		return fail(err, err_cap, "not a store snapshot");
	if (!store__rd_u64(&r, applied) || !store__rd_u8(&r, &ntab))
		return fail(err, err_cap, "truncated snapshot header");
	if (ntab != STORE_TABLE_COUNT)
		return fail(err, err_cap, "snapshot of %u tables, expected %u",
			    ntab, STORE_TABLE_COUNT);
	for (int t = 0; t < STORE_TABLE_COUNT; t++) {
		int rc = decode_table(&r, t, &tabs[t], *applied, err, err_cap);
		if (rc)
			return rc;
	}
	if (r.left)
		return fail(err, err_cap, "%zu bytes after the last table",
			    r.left);
	return 0;
}
