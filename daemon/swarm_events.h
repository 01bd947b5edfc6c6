/*
 * Docker's swarm events on a manager (swarm_events.c).
 */
#ifndef SHOAL_DAEMON_SWARM_EVENTS_H
#define SHOAL_DAEMON_SWARM_EVENTS_H

struct eng;
struct mgr;
struct swarm_events;

/**
 * swarm_events_start() - follow @m's store (on every manager, leader or
 * not) and post Docker's swarm events (scope "swarm": service and node
 * create/update/remove, secret and config create/remove) to @e's event
 * log. Loop thread. 0 and *@out (free with swarm_events_stop()), or
 * -ENOMEM / -EINVAL (nothing follows).
 */
int swarm_events_start(struct eng *e, struct mgr *m, struct swarm_events **out);

/** swarm_events_stop() - stop following; before mgr_stop(). NULL: none. */
void swarm_events_stop(struct swarm_events *ev);

#endif
