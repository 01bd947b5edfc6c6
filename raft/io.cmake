# raft-io's part of libshoal-raft: the disk log (and later the transport
# and the libuv node driver). Included from raft/CMakeLists.txt.
target_sources(shoal-raft PRIVATE
	${CMAKE_CURRENT_LIST_DIR}/disk.c
	${CMAKE_CURRENT_LIST_DIR}/disk_crc.c
	${CMAKE_CURRENT_LIST_DIR}/disk_format.c
	${CMAKE_CURRENT_LIST_DIR}/disk_meta.c
	${CMAKE_CURRENT_LIST_DIR}/disk_open.c
	${CMAKE_CURRENT_LIST_DIR}/disk_seal.c
	${CMAKE_CURRENT_LIST_DIR}/disk_writer.c
	${CMAKE_CURRENT_LIST_DIR}/node_uv.c
	${CMAKE_CURRENT_LIST_DIR}/node_uv_snapshot.c
	${CMAKE_CURRENT_LIST_DIR}/transport_codec.c
	${CMAKE_CURRENT_LIST_DIR}/transport_tcp.c
)
target_link_libraries(shoal-raft PUBLIC shoal-proto shoal-common PkgConfig::UV
	Threads::Threads)
