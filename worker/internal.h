/*
 * Internal to worker/: what join.c and agent.c share. Not part of
 * libshoal-worker's contract.
 */
#ifndef SHOAL_WORKER_INTERNAL_H
#define SHOAL_WORKER_INTERNAL_H

#include "proto/swarm.pb-c.h"
#include "worker/worker.h"

/**
 * agent__raft_from_pb() - the Raft settings of a manager's answer into
 * @out; false when the answer carries none (a manager from before them).
 */
bool agent__raft_from_pb(const Swarm__RaftSettings *pb, struct agent_raft *out);

#endif
