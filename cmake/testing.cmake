# Helpers for tests: every test binary is registered with ctest under a
# label (unit, sim, system, cluster, fuzz) that scripts/test selects by.
function(shoal_add_subdirs parent)
	if(NOT EXISTS ${parent})
		return()
	endif()
	file(GLOB children LIST_DIRECTORIES true CONFIGURE_DEPENDS ${parent}/*)
	list(SORT children)
	foreach(child ${children})
		if(IS_DIRECTORY ${child} AND EXISTS ${child}/CMakeLists.txt)
			add_subdirectory(${child})
		endif()
	endforeach()
endfunction()

# shoal_test(NAME name LABEL label SOURCES ... LIBS ... [TIMEOUT s])
function(shoal_test)
	cmake_parse_arguments(T "" "NAME;LABEL;TIMEOUT" "SOURCES;LIBS;ARGS" ${ARGN})
	if(NOT CMOCKA_FOUND)
		message(WARNING "cmocka missing: ${T_NAME} not built")
		return()
	endif()
	add_executable(${T_NAME} ${T_SOURCES})
	target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
	add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
	if(NOT T_TIMEOUT)
		set(T_TIMEOUT 300)
	endif()
	set_tests_properties(${T_NAME} PROPERTIES LABELS ${T_LABEL}
		TIMEOUT ${T_TIMEOUT}
		ENVIRONMENT "SHOAL_BUILD_DIR=${CMAKE_BINARY_DIR};SHOAL_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()

# shoal_fuzz(NAME name SOURCES ... LIBS ... CORPUS dir): a libFuzzer target
# in the fuzz preset; elsewhere a replay binary that runs the seed corpus
# through the same entry point, so the decoder is exercised in every build.
function(shoal_fuzz)
	cmake_parse_arguments(F "" "NAME;CORPUS" "SOURCES;LIBS" ${ARGN})
	if(SHOAL_FUZZ)
		add_executable(${F_NAME} ${F_SOURCES})
		target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
		target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
		# New inputs go to a scratch folder in the build tree (the first
		# folder named); the committed seeds are read, never written.
		set(work ${CMAKE_CURRENT_BINARY_DIR}/${F_NAME}-corpus)
		file(MAKE_DIRECTORY ${work})
		add_test(NAME ${F_NAME} COMMAND ${F_NAME}
			-max_total_time=${SHOAL_FUZZ_SECONDS} -rss_limit_mb=2048
			${work} ${F_CORPUS})
		set_tests_properties(${F_NAME} PROPERTIES LABELS fuzz TIMEOUT 600)
	else()
		add_executable(${F_NAME} ${F_SOURCES}
			${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
		target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
		add_test(NAME ${F_NAME}-replay COMMAND ${F_NAME} ${F_CORPUS})
		set_tests_properties(${F_NAME}-replay PROPERTIES LABELS unit TIMEOUT 120)
	endif()
endfunction()
