/*
 * The store's two encodings, as protobuf messages of proto/store.proto:
 * batches (store.Batch, the payload of one Raft entry) and snapshots
 * (store.Snapshot, the whole store).
 *
 * Both decoders are strict. Beyond protobuf's own checks they refuse
 * unknown fields and any encoding other than the canonical one (the bytes
 * protobuf-c itself packs: fields in number order, zero scalars omitted, no
 * repeated scalar fields): the decoded message is packed again into a
 * comparing sink (no allocation) and must give back the input. Then every
 * field is checked against the store's rules (kinds, tables, ids, names,
 * versions, sizes; snapshots sorted by id). Strictness makes decode then
 * encode the identity, which is what lets two managers compare stores by
 * comparing snapshot bytes, and what the fuzz targets check. protobuf-c
 * allocates through wire_pb_allocator, so decodes count toward leak checks
 * and fail under allocation injection, reported as -ENOMEM, not as
 * malformed input.
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
#include "proto/store.pb-c.h"
#include "proto/wire.h"

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

/* ------------------------------------------------------------ canonical */

/* A ProtobufCBuffer that compares what is packed with expected bytes. */
struct cmp_sink {
	ProtobufCBuffer base;
	const uint8_t *data;
	size_t len;
	size_t off;
	bool same;
};

static void cmp_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data)
{
	struct cmp_sink *c = (struct cmp_sink *)buffer;
	if (!c->same)
		return;
	if (len > c->len - c->off || memcmp(c->data + c->off, data, len)) {
		c->same = false;
		return;
	}
	c->off += len;
}

/* canonical: packing @m gives exactly @data. */
static bool canonical(const ProtobufCMessage *m, const uint8_t *data,
		      size_t len)
{
	struct cmp_sink c = {
		.base = {.append = cmp_append},
		.data = data,
		.len = len,
		.off = 0,
		.same = true,
	};
	protobuf_c_message_pack_to_buffer(m, &c.base);
	return c.same && c.off == len;
}

/* ------------------------------------------------------------- batches */

void store_batch_init(struct store_batch *b, int64_t time_ns)
{
	memset(b, 0, sizeof(*b));
	b->time_ns = time_ns;
}

static void op_free_copies(struct store_op *op)
{
	shoal_free((void *)op->id);
	shoal_free((void *)op->name);
	shoal_free((void *)op->spec);
	shoal_free((void *)op->status);
}

void store_batch_fini(struct store_batch *b)
{
	for (uint32_t i = 0; i < b->nops; i++)
		op_free_copies(&b->ops[i]);
	shoal_free(b->ops);
	b->ops = NULL;
	b->nops = 0;
	b->cap = 0;
	b->bytes = 0;
}

/* copy_blob: an owned copy of @p (NULL stays NULL: absent). */
static int copy_blob(const void *p, size_t len, const uint8_t **out)
{
	*out = NULL;
	if (!p)
		return 0;
	*out = shoal_malloc(len ? len : 1);
	if (!*out)
		return -ENOMEM;
	if (len)
		memcpy((void *)*out, p, len);
	return 0;
}

/* add_op: checks what every op shares, then appends a copy of @in. */
static int add_op(struct store_batch *b, const struct store_op *in)
{
	if (b->err)
		return b->err;
	size_t size =
		in->id_len + in->name_len + in->spec_len + in->status_len + 32;
	if ((unsigned)in->table >= STORE_TABLE_COUNT ||
	    !store__valid_id(in->id, in->id_len) ||
	    b->nops >= STORE_BATCH_OPS_MAX || in->spec_len > STORE_BLOB_MAX ||
	    in->status_len > STORE_BLOB_MAX ||
	    size > STORE_BATCH_MAX - b->bytes)
		return b->err = -EINVAL;
	if (b->nops == b->cap) {
		uint32_t ncap = b->cap ? b->cap * 2 : 8;
		struct store_op *n =
			shoal_realloc(b->ops, ncap * sizeof(*b->ops));
		if (!n)
			return b->err = -ENOMEM;
		b->ops = n;
		b->cap = ncap;
	}
	struct store_op *op = &b->ops[b->nops];
	*op = *in;
	op->id = shoal_strndup(in->id, in->id_len);
	op->name = in->name_len ? shoal_strndup(in->name, in->name_len) : NULL;
	op->spec = NULL;
	op->status = NULL;
	int rc = (!op->id || (in->name_len && !op->name)) ? -ENOMEM : 0;
	if (!rc)
		rc = copy_blob(in->has_spec ? in->spec : NULL, in->spec_len,
			       &op->spec);
	if (!rc)
		rc = copy_blob(in->has_status ? in->status : NULL,
			       in->status_len, &op->status);
	if (rc) {
		op_free_copies(op);
		return b->err = rc;
	}
	b->nops++;
	b->bytes += size;
	return 0;
}

static struct store_op make_op(enum store_op_kind kind, enum store_table t,
			       const char *id, uint64_t version,
			       const void *spec, size_t spec_len,
			       const void *status, size_t status_len)
{
	struct store_op op = {
		.kind = kind,
		.table = t,
		.version = version,
		.id = id,
		.id_len = strlen(id),
		.spec = spec,
		.spec_len = spec ? spec_len : 0,
		.status = status,
		.status_len = status ? status_len : 0,
		.has_spec = spec != NULL,
		.has_status = status != NULL,
	};
	return op;
}

int store_batch_create(struct store_batch *b, enum store_table t,
		       const char *id, const char *name, const void *spec,
		       size_t spec_len, const void *status, size_t status_len)
{
	size_t nlen = name ? strlen(name) : 0;
	if (!b->err &&
	    (!id || !spec || (nlen && !store__valid_name(name, nlen))))
		b->err = -EINVAL;
	if (b->err)
		return b->err;
	struct store_op op = make_op(STORE_OP_CREATE, t, id, 0, spec, spec_len,
				     status, status_len);
	op.name = name;
	op.name_len = nlen;
	return add_op(b, &op);
}

int store_batch_update(struct store_batch *b, enum store_table t,
		       const char *id, uint64_t version, const void *spec,
		       size_t spec_len, const void *status, size_t status_len)
{
	if (!b->err && (!id || (!spec && !status) || version == 0))
		b->err = -EINVAL;
	if (b->err)
		return b->err;
	struct store_op op = make_op(STORE_OP_UPDATE, t, id, version, spec,
				     spec_len, status, status_len);
	return add_op(b, &op);
}

int store_batch_delete(struct store_batch *b, enum store_table t,
		       const char *id, uint64_t version)
{
	if (!b->err && (!id || version == 0))
		b->err = -EINVAL;
	if (b->err)
		return b->err;
	struct store_op op =
		make_op(STORE_OP_DELETE, t, id, version, NULL, 0, NULL, 0);
	return add_op(b, &op);
}

/*
 * pack_batch: the protobuf of @b's ops, packed into *@out. The messages
 * point into @b's copies; their structs live in one scratch block.
 */
static int pack_batch(const struct store_batch *b, uint8_t **out, size_t *len)
{
	size_t each = sizeof(Store__Op) + sizeof(Store__Op *) +
		      2 * sizeof(Store__Blob);
	char *scratch = shoal_malloc(b->nops * each);
	if (!scratch)
		return -ENOMEM;
	Store__Op *ops = (Store__Op *)scratch;
	Store__Blob *blobs = (Store__Blob *)(ops + b->nops);
	Store__Op **ptrs = (Store__Op **)(blobs + 2 * (size_t)b->nops);
	for (uint32_t i = 0; i < b->nops; i++) {
		const struct store_op *op = &b->ops[i];
		Store__Op *o = &ops[i];
		store__op__init(o);
		o->kind = (Store__OpKind)op->kind;
		o->table = (uint32_t)op->table;
		o->version = op->version;
		o->id = (char *)op->id;
		o->name = op->name ? (char *)op->name : (char *)"";
		if (op->has_spec) {
			store__blob__init(&blobs[2 * i]);
			blobs[2 * i].data.data = (uint8_t *)op->spec;
			blobs[2 * i].data.len = op->spec_len;
			o->spec = &blobs[2 * i];
		}
		if (op->has_status) {
			store__blob__init(&blobs[2 * i + 1]);
			blobs[2 * i + 1].data.data = (uint8_t *)op->status;
			blobs[2 * i + 1].data.len = op->status_len;
			o->status = &blobs[2 * i + 1];
		}
		ptrs[i] = o;
	}
	Store__Batch m = STORE__BATCH__INIT;
	m.time_ns = b->time_ns;
	m.n_ops = b->nops;
	m.ops = ptrs;
	int rc = 0;
	*len = store__batch__get_packed_size(&m);
	if (*len > STORE_BATCH_MAX)
		rc = -EINVAL;
	else if (!(*out = shoal_malloc(*len ? *len : 1)))
		rc = -ENOMEM;
	else
		store__batch__pack(&m, *out);
	shoal_free(scratch);
	return rc;
}

int store_batch_finish(struct store_batch *b, uint8_t **out, size_t *len)
{
	int rc = b->err;
	if (!rc && b->nops == 0)
		rc = -EINVAL;
	if (!rc)
		rc = pack_batch(b, out, len);
	store_batch_fini(b);
	b->err = 0;
	return rc;
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

static bool blob_ok(const Store__Blob *b)
{
	return !b ||
	       (b->base.n_unknown_fields == 0 && b->data.len <= STORE_BLOB_MAX);
}

/* decode_op: the checks of one operation, into @op (borrowing @o). */
static int decode_op(const Store__Op *o, struct store_op *op, char *err,
		     size_t cap)
{
	memset(op, 0, sizeof(*op));
	if (o->base.n_unknown_fields || !blob_ok(o->spec) ||
	    !blob_ok(o->status))
		return fail(err, cap, "unknown fields or oversized data");
	int kind = (int)o->kind;
	if (kind < STORE_OP_CREATE || kind > STORE_OP_DELETE)
		return fail(err, cap, "unknown operation kind %d", kind);
	if (o->table >= STORE_TABLE_COUNT)
		return fail(err, cap, "unknown table %u", o->table);
	op->kind = (enum store_op_kind)kind;
	op->table = (enum store_table)o->table;
	op->version = o->version;
	op->id = o->id;
	op->id_len = strlen(o->id);
	op->name = o->name;
	op->name_len = strlen(o->name);
	op->has_spec = o->spec != NULL;
	op->has_status = o->status != NULL;
	/* A present but empty blob gets a non-NULL pointer, as callers of
	 * store_batch_create/update pass one. */
	if (o->spec) {
		op->spec = o->spec->data.len ? o->spec->data.data
					     : (const uint8_t *)"";
		op->spec_len = o->spec->data.len;
	}
	if (o->status) {
		op->status = o->status->data.len ? o->status->data.data
						 : (const uint8_t *)"";
		op->status_len = o->status->data.len;
	}
	if (!store__valid_id(op->id, op->id_len))
		return fail(err, cap, "missing or invalid object id");
	int id_len = (int)op->id_len;
	if (op->kind == STORE_OP_CREATE) {
		if (op->version != 0 || !op->has_spec)
			return fail(err, cap,
				    "create of %.*s needs a spec "
				    "and no version",
				    id_len, op->id);
		if (op->name_len && !store__valid_name(op->name, op->name_len))
			return fail(err, cap, "invalid name for %.*s", id_len,
				    op->id);
		return 0;
	}
	const char *what = op->kind == STORE_OP_UPDATE ? "update" : "delete";
	if (op->version == 0 || op->name_len)
		return fail(err, cap, "%s of %.*s needs a version and no name",
			    what, id_len, op->id);
	if (op->kind == STORE_OP_UPDATE && !op->has_spec && !op->has_status)
		return fail(err, cap, "update of %.*s changes nothing", id_len,
			    op->id);
	if (op->kind == STORE_OP_DELETE && (op->has_spec || op->has_status))
		return fail(err, cap, "delete of %.*s carries data", id_len,
			    op->id);
	return 0;
}

void store_decoded_fini(struct store_decoded *d)
{
	shoal_free(d->ops);
	if (d->msg)
		store__batch__free_unpacked(d->msg, &wire_pb_allocator);
	memset(d, 0, sizeof(*d));
}

static int decode_ops(const Store__Batch *m, struct store_decoded *out,
		      char *err, size_t cap)
{
	struct hmap seen = HMAP_INIT;
	int rc = 0;
	out->ops = shoal_calloc(m->n_ops, sizeof(*out->ops));
	if (!out->ops)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_ops && !rc; i++) {
		struct store_op *op = &out->ops[i];
		rc = decode_op(m->ops[i], op, err, cap);
		if (!rc)
			rc = seen_once(&seen, op);
		if (rc == -EEXIST)
			rc = fail(err, cap, "%.*s appears twice in batch",
				  (int)op->id_len, op->id);
	}
	hmap_fini(&seen);
	return rc;
}

int store_batch_decode(const void *data, size_t len, struct store_decoded *out,
		       char *err, size_t err_cap)
{
	struct wire_pb_tracker t;
	memset(out, 0, sizeof(*out));
	if (len > STORE_BATCH_MAX)
		return fail(err, err_cap, "batch of %zu bytes over the limit",
			    len);
	wire_pb_tracker_init(&t);
	Store__Batch *m = store__batch__unpack(&t.alloc, len, data);
	if (!m)
		return t.failed ? -ENOMEM
				: fail(err, err_cap, "not a store batch");
	out->msg = m;
	int rc = 0;
	if (m->base.n_unknown_fields || !canonical(&m->base, data, len))
		rc = fail(err, err_cap, "not a canonical store batch");
	else if (m->n_ops == 0 || m->n_ops > STORE_BATCH_OPS_MAX)
		rc = fail(err, err_cap, "batch of %zu operations", m->n_ops);
	else
		rc = decode_ops(m, out, err, err_cap);
	if (rc) {
		store_decoded_fini(out);
		return rc;
	}
	out->time_ns = m->time_ns;
	out->nops = (uint32_t)m->n_ops;
	return 0;
}

/* ----------------------------------------------------------- snapshots */

static void fill_object(Store__Object *p, const struct store_object *o)
{
	store__object__init(p);
	p->id = (char *)o->id;
	p->name = (char *)o->name;
	p->version = o->version;
	p->created_ns = o->created_ns;
	p->updated_ns = o->updated_ns;
	p->spec.data = (uint8_t *)o->spec;
	p->spec.len = o->spec_len;
	p->status.data = (uint8_t *)o->status;
	p->status.len = o->status_len;
}

/* One table's message: the objects sorted by id, pointing into the store. */
struct snap_table {
	Store__Table msg;
	Store__Object *objs;
	Store__Object **ptrs;
};

static int snap_table_fill(struct snap_table *st, const struct store_tab *tab)
{
	const struct store_object **sorted;
	size_t n;
	store__table__init(&st->msg);
	int rc = store__sorted(tab, &sorted, &n);
	if (rc)
		return rc;
	st->objs = shoal_calloc(n ? n : 1, sizeof(*st->objs));
	st->ptrs = shoal_calloc(n ? n : 1, sizeof(*st->ptrs));
	if (!st->objs || !st->ptrs) {
		shoal_free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		fill_object(&st->objs[i], sorted[i]);
		st->ptrs[i] = &st->objs[i];
	}
	shoal_free(sorted);
	st->msg.n_objects = n;
	st->msg.objects = st->ptrs;
	return 0;
}

int store_snapshot(const struct store *s, struct buf *out)
{
	struct snap_table st[STORE_TABLE_COUNT];
	Store__Table *tabs[STORE_TABLE_COUNT];
	int rc = 0;
	memset(st, 0, sizeof(st));
	for (int t = 0; t < STORE_TABLE_COUNT && !rc; t++) {
		rc = snap_table_fill(&st[t], &s->tabs[t]);
		tabs[t] = &st[t].msg;
	}
	if (!rc) {
		Store__Snapshot m = STORE__SNAPSHOT__INIT;
		m.applied_index = s->applied;
		m.n_tables = STORE_TABLE_COUNT;
		m.tables = tabs;
		size_t size = store__snapshot__get_packed_size(&m);
		rc = buf_reserve(out, size);
		if (!rc) {
			store__snapshot__pack(&m,
					      (uint8_t *)out->data + out->len);
			out->len += size;
			out->data[out->len] = '\0';
		}
	}
	for (int t = 0; t < STORE_TABLE_COUNT; t++) {
		shoal_free(st[t].objs);
		shoal_free(st[t].ptrs);
	}
	return rc;
}

static int check_snap_obj(const Store__Object *o, enum store_table t,
			  uint64_t applied, const char *prev, char *err,
			  size_t cap)
{
	const char *tn = store_table_name(t);
	if (o->base.n_unknown_fields)
		return fail(err, cap, "%s: unknown fields", tn);
	if (!store__valid_id(o->id, strlen(o->id)))
		return fail(err, cap, "%s: missing or invalid object id", tn);
	if (prev && strcmp(prev, o->id) >= 0)
		return fail(err, cap, "%s: %s out of order", tn, o->id);
	if (o->name[0] && !store__valid_name(o->name, strlen(o->name)))
		return fail(err, cap, "%s: invalid name for %s", tn, o->id);
	if (o->version == 0 || o->version > applied)
		return fail(err, cap,
			    "%s: %s has version %llu beyond index %llu", tn,
			    o->id, (unsigned long long)o->version,
			    (unsigned long long)applied);
	if (o->spec.len > STORE_BLOB_MAX || o->status.len > STORE_BLOB_MAX)
		return fail(err, cap, "%s: oversized data in %s", tn, o->id);
	return 0;
}

static int restore_table(const Store__Table *m, enum store_table t,
			 struct store_tab *tab, uint64_t applied, char *err,
			 size_t cap)
{
	if (m->base.n_unknown_fields)
		return fail(err, cap, "%s: unknown fields",
			    store_table_name(t));
	for (size_t i = 0; i < m->n_objects; i++) {
		const Store__Object *o = m->objects[i];
		int rc = check_snap_obj(o, t, applied,
					i ? m->objects[i - 1]->id : NULL, err,
					cap);
		if (rc)
			return rc;
		struct store_object *obj = store__object_new(
			t, o->id, strlen(o->id), o->name, strlen(o->name),
			o->spec.data, o->spec.len, o->status.data,
			o->status.len);
		if (!obj)
			return -ENOMEM;
		obj->version = o->version;
		obj->created_ns = o->created_ns;
		obj->updated_ns = o->updated_ns;
		rc = store__tab_insert(tab, obj);
		if (rc) {
			store_object_unref(obj);
			if (rc == -EEXIST)
				return fail(err, cap, "%s: name %s taken twice",
					    store_table_name(t), o->name);
			return rc;
		}
	}
	return 0;
}

int store__snapshot_decode(const uint8_t *data, size_t len,
			   struct store_tab *tabs, uint64_t *applied, char *err,
			   size_t err_cap)
{
	struct wire_pb_tracker t;
	wire_pb_tracker_init(&t);
	Store__Snapshot *m = store__snapshot__unpack(&t.alloc, len, data);
	if (!m)
		return t.failed ? -ENOMEM
				: fail(err, err_cap, "not a store snapshot");
	int rc = 0;
	if (m->base.n_unknown_fields || !canonical(&m->base, data, len))
		rc = fail(err, err_cap, "not a canonical store snapshot");
	else if (m->n_tables != STORE_TABLE_COUNT)
		rc = fail(err, err_cap, "snapshot of %zu tables, expected %d",
			  m->n_tables, STORE_TABLE_COUNT);
	*applied = m->applied_index;
	for (int i = 0; !rc && i < STORE_TABLE_COUNT; i++)
		rc = restore_table(m->tables[i], i, &tabs[i], *applied, err,
				   err_cap);
	store__snapshot__free_unpacked(m, &wire_pb_allocator);
	return rc;
}
