# The image store (runtime/image*.c), added to libshoal-runtime. Included
# by runtime/CMakeLists.txt, which the runtime engineer owns.
target_sources(shoal-runtime PRIVATE
	${CMAKE_CURRENT_LIST_DIR}/image_async.c
	${CMAKE_CURRENT_LIST_DIR}/image_config.c
	${CMAKE_CURRENT_LIST_DIR}/image_fs.c
	${CMAKE_CURRENT_LIST_DIR}/image_load.c
	${CMAKE_CURRENT_LIST_DIR}/image_manifest.c
	${CMAKE_CURRENT_LIST_DIR}/image_ops.c
	${CMAKE_CURRENT_LIST_DIR}/image_save.c
	${CMAKE_CURRENT_LIST_DIR}/image_store.c
	${CMAKE_CURRENT_LIST_DIR}/image_unpack.c
)
target_link_libraries(shoal-runtime PUBLIC PkgConfig::ARCHIVE
	PkgConfig::JANSSON)
