/*
 * The top-level command table. One row per subcommand; keep it sorted as
 * `shoal --help` prints it in this order.
 */
#include "cli/cli.h"

const struct cli_command cli_commands[] = {
	{"info", cli_cmd_info, "Display system-wide information"},
	{"node", cli_cmd_node, "Manage Swarm nodes"},
	{"swarm", cli_cmd_swarm, "Manage Swarm"},
	{"version", cli_cmd_version, "Show the Shoal version information"},
};

const size_t cli_ncommands = sizeof(cli_commands) / sizeof(cli_commands[0]);
