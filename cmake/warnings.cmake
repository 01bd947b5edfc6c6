# The warnings of STYLE.md; the gcc-only ones behind a compiler check.
# -Werror only where SHOAL_WERROR is on (the presets turn it on): a user
# building with their own compiler or flags gets warnings, not a failed
# build.
include(CheckCCompilerFlag)
option(SHOAL_WERROR "Treat warnings as errors" OFF)
if(SHOAL_WERROR)
	add_compile_options(-Werror)
endif()
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes
	-Wmissing-prototypes -Wformat=2 -Wimplicit-fallthrough -Wvla -Wundef
	-Wwrite-strings -Wno-unused-parameter)
foreach(flag -Wlogical-op -Wduplicated-cond -Wduplicated-branches
		-Wjump-misses-init)
	string(MAKE_C_IDENTIFIER "HAVE${flag}" var)
	check_c_compiler_flag(${flag} ${var})
	if(${var})
		add_compile_options(${flag})
	endif()
endforeach()
