/*
 * Internal to cli/: what `shoal stack deploy` decides (cmd_stack.c),
 * exposed for its unit test.
 */
#ifndef SHOAL_CLI_STACK_H
#define SHOAL_CLI_STACK_H

#include <jansson.h>
#include <stdbool.h>

/**
 * cli__stack_same() - whether a service whose current spec is @have needs
 * no update to become @want (the spec the compose file gives): every
 * field of @want equal (numbers by value, lists item by item), and every
 * field only @have holds empty (false, 0, "", [], {}: a default the
 * daemon filled in). Both borrowed.
 */
bool cli__stack_same(const json_t *want, const json_t *have);

#endif
