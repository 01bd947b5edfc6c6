# The warnings of STYLE.md; the gcc-only ones behind a compiler check.
include(CheckCCompilerFlag)
add_compile_options(-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
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
