/*
 * Secrets and configs on the managers (docs/secrets.md): Docker's
 * SecretSpec / ConfigSpec checks, and the references services make to
 * them (ContainerSpec.Secrets / Configs), shared by the write path
 * (ops_secret.c, ops_service.c) and the assignments (orch_secrets.c).
 * Pure: no I/O, no clock.
 */
#ifndef SHOAL_MANAGER_SECRETS_H
#define SHOAL_MANAGER_SECRETS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manager/manager.h"
#include "manager/store.h"

#define SECRET_DATA_MAX ((size_t)500 * 1024)  /* swarmkit's MaxSecretSize */
#define CONFIG_DATA_MAX ((size_t)1000 * 1024) /* and MaxConfigSize */

/** One of the two tables, with the words its errors use. */
struct secret_kind {
	enum store_table table;
	const char *word; /* "secret" or "config" */
	size_t max;	  /* data must be shorter than this */
};

extern const struct secret_kind secret_kind_secret;
extern const struct secret_kind secret_kind_config;

/** secret_name_valid() - Docker's rule: 1..64 of [a-zA-Z0-9-_.], the
 * first and last alphanumeric. */
bool secret_name_valid(const char *name);

/**
 * secret_data_decode() - standard base64 @b64 into *@out (owned: wipe and
 * shoal_free) of *@len bytes. -EINVAL with @err for bad base64, -ERANGE
 * (no message) when the data is empty or not shorter than @max, -ENOMEM.
 */
int secret_data_decode(const char *b64, size_t max, uint8_t **out, size_t *len,
		       char *err, size_t errlen);

/**
 * secret_spec_check() - a create body (Docker's SecretSpec or ConfigSpec
 * for @k): unknown fields, Name, Labels, Data and its size, Templating
 * (none or golang); Driver refused by name. 0 and the decoded data in *@data
 * (owned, as above), or -EINVAL with @err in Docker's words, or -ENOMEM.
 */
int secret_spec_check(const struct secret_kind *k, const json_t *body,
		      uint8_t **data, size_t *len, char *err, size_t errlen);

/** secret_refs() - the ContainerSpec.Secrets (or Configs) array of the
 * service spec (TaskTemplate.ContainerSpec) or task spec (ContainerSpec)
 * @spec, or NULL (borrowed). */
const json_t *secret_refs(const struct secret_kind *k, const json_t *spec);

/** secret_used_by() - whether @spec refers to object @id of @k. */
bool secret_used_by(const struct secret_kind *k, const json_t *spec,
		    const char *id);

/**
 * secret_refs_resolve() - on the leader: every secret and config @spec
 * (a checked ServiceSpec) refers to must exist in @s, by its id when given
 * (and then its name must match) or else by name; the id and name are
 * filled in. -EINVAL with Docker's "secret not found: a, b", or -ENOMEM.
 */
int secret_refs_resolve(const struct store *s, json_t *spec, char *err,
			size_t errlen);

/**
 * orch_secrets_append() - the secret and config items of a node's set
 * (orch_secrets.c): for the task items @items[0..*@n) whose desired state
 * is up to running, one item per secret and config they refer to,
 * appended (owned data: shoal_free each, as the task items). @cap is the
 * array's room; the array may be reallocated. 0 or -ENOMEM (the items
 * added so far stay, for the caller to free).
 */
int orch_secrets_append(const struct store *s, struct mgr_item **items,
			size_t *n, size_t *cap);

#endif
