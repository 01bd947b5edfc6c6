/*
 * Configurations (thesis §4.1): the set of servers, each a voter or a
 * learner, and their encoding as the payload of RAFT_ENTRY_CONF entries.
 *
 * The encoding is fixed and little-endian so that every manager, whatever
 * its build, reads the same configuration from the same log entry: a 4-byte
 * count followed by one 9-byte record (8-byte id, 1-byte role) per server.
 * Decoding is strict because a conf payload may come from a peer: a bad
 * length, a zero or duplicate id, an unknown role or too many servers is
 * -EPROTO, never an assert.
 */
#include <errno.h>
#include <string.h>

#include "raft/raft.h"

#define SERVER_LEN 9

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

size_t raft_conf_encoded_len(const struct raft_conf *conf)
{
	return 4 + (size_t)conf->n * SERVER_LEN;
}

int raft_conf_encode(const struct raft_conf *conf, void *buf, size_t cap)
{
	unsigned char *p = buf;
	size_t len = raft_conf_encoded_len(conf);

	if (cap < len)
		return -ENOBUFS;
	put_le(p, conf->n, 4);
	for (uint32_t i = 0; i < conf->n; i++) {
		put_le(p + 4 + i * SERVER_LEN, conf->servers[i].id, 8);
		p[4 + i * SERVER_LEN + 8] =
			(unsigned char)conf->servers[i].role;
	}
	return (int)len;
}

static bool role_valid(unsigned role)
{
	return role == RAFT_VOTER || role == RAFT_LEARNER;
}

int raft_conf_decode(const void *buf, size_t len, struct raft_conf *out)
{
	const unsigned char *p = buf;
	struct raft_conf conf;
	uint64_t n;

	if (len < 4)
		return -EPROTO;
	n = get_le(p, 4);
	if (n > RAFT_CONF_MAX || len != 4 + n * SERVER_LEN)
		return -EPROTO;
	memset(&conf, 0, sizeof(conf));
	for (uint32_t i = 0; i < n; i++) {
		const unsigned char *s = p + 4 + i * SERVER_LEN;
		uint64_t id = get_le(s, 8);

		if (id == RAFT_ID_NONE || !role_valid(s[8]) ||
		    raft_conf_find(&conf, id))
			return -EPROTO;
		conf.servers[i].id = id;
		conf.servers[i].role = (enum raft_server_role)s[8];
		conf.n = i + 1;
	}
	*out = conf;
	return 0;
}

const struct raft_server *raft_conf_find(const struct raft_conf *conf,
					 uint64_t id)
{
	for (uint32_t i = 0; i < conf->n; i++)
		if (conf->servers[i].id == id)
			return &conf->servers[i];
	return NULL;
}

const char *raft_role_name(enum raft_role role)
{
	switch (role) {
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_PRECANDIDATE:
		return "precandidate";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_LEADER:
		return "leader";
	}
	return "unknown";
}

const char *raft_msg_type_name(enum raft_msg_type type)
{
	static const char *const names[] = {
		[RAFT_MSG_APPEND] = "append",
		[RAFT_MSG_APPEND_RESP] = "append_resp",
		[RAFT_MSG_VOTE] = "vote",
		[RAFT_MSG_VOTE_RESP] = "vote_resp",
		[RAFT_MSG_HEARTBEAT] = "heartbeat",
		[RAFT_MSG_HEARTBEAT_RESP] = "heartbeat_resp",
		[RAFT_MSG_SNAPSHOT] = "snapshot",
		[RAFT_MSG_SNAPSHOT_RESP] = "snapshot_resp",
		[RAFT_MSG_TIMEOUT_NOW] = "timeout_now",
	};

	if ((unsigned)type > RAFT_MSG_TYPE_MAX || !names[type])
		return "unknown";
	return names[type];
}
