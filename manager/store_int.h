/*
 * Internal to the store (store.c, store_codec.c): the tables, the object
 * allocator and the snapshot decoder. Nothing outside manager/store*.c
 * includes this header.
 */
#ifndef SHOAL_MANAGER_STORE_INT_H
#define SHOAL_MANAGER_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/list.h"
#include "common/map.h"
#include "manager/store.h"

/*
 * One table: @by_id owns one reference to each object; @by_name (tables
 * with unique names only) borrows the same objects by name.
 */
struct store_tab {
	struct hmap by_id;
	struct hmap by_name;
};

struct store {
	struct store_tab tabs[STORE_TABLE_COUNT];
	uint64_t applied;
	struct list_node watchers;
};

/*
 * store__object_new() - a new object with one reference; strings and
 * blobs copied. NULL on -ENOMEM.
 */
struct store_object *store__object_new(enum store_table t, const char *id,
				       size_t id_len, const char *name,
				       size_t name_len, const uint8_t *spec,
				       size_t spec_len, const uint8_t *status,
				       size_t status_len);

/* store__tabs_fini() - release every object of @tabs (an array). */
void store__tabs_fini(struct store_tab *tabs);

/*
 * store__tab_insert() - add @o (taking the caller's reference) to @tab;
 * -ENOMEM leaves @tab unchanged, -EEXIST for a taken id or unique name.
 */
int store__tab_insert(struct store_tab *tab, struct store_object *o);

/* store__valid_id() / store__valid_name() - the store's character rules. */
bool store__valid_id(const char *s, size_t len);
bool store__valid_name(const char *s, size_t len);

/* store__sorted() - @tab's objects sorted by id (owned array, borrowed). */
int store__sorted(const struct store_tab *tab, const struct store_object ***out,
		  size_t *n);

/* store__snapshot_decode() - fill the empty @tabs and *@applied from @data;
 * 0, -EINVAL (message in @err) or -ENOMEM; on error @tabs hold what was
 * decoded so far (release with store__tabs_fini()). */
int store__snapshot_decode(const uint8_t *data, size_t len,
			   struct store_tab *tabs, uint64_t *applied, char *err,
			   size_t err_cap);

#endif
