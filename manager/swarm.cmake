# swarm's part of libshoal-manager: the CA, this node's state on disk, the
# manager's wiring, the swarm port and its roles (listener, joins,
# dispatcher, writes), the SwarmSpec and leader-only components. Included
# from manager/CMakeLists.txt.
target_sources(shoal-manager PRIVATE
	${CMAKE_CURRENT_LIST_DIR}/ca.c
	${CMAKE_CURRENT_LIST_DIR}/cluster.c
	${CMAKE_CURRENT_LIST_DIR}/cluster_forward.c
	${CMAKE_CURRENT_LIST_DIR}/cluster_node.c
	${CMAKE_CURRENT_LIST_DIR}/cluster_state.c
	${CMAKE_CURRENT_LIST_DIR}/component.c
	${CMAKE_CURRENT_LIST_DIR}/dispatcher.c
	${CMAKE_CURRENT_LIST_DIR}/follow.c
	${CMAKE_CURRENT_LIST_DIR}/join.c
	${CMAKE_CURRENT_LIST_DIR}/listener.c
	${CMAKE_CURRENT_LIST_DIR}/lock.c
	${CMAKE_CURRENT_LIST_DIR}/ops_node.c
	${CMAKE_CURRENT_LIST_DIR}/ops_swarm.c
	${CMAKE_CURRENT_LIST_DIR}/revoke.c
	${CMAKE_CURRENT_LIST_DIR}/swarm_spec.c
	${CMAKE_CURRENT_LIST_DIR}/write.c
)
target_link_libraries(shoal-manager PUBLIC shoal-proto shoal-raft
	PkgConfig::JANSSON PkgConfig::SODIUM PkgConfig::UV)
