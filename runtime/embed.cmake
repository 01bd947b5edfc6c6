# Turns a text file into a C string constant (rt__seccomp_default_profile).
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* Generated from seccomp_default.json; do not edit. */\n"
	"const char rt__seccomp_default_profile[] = {${bytes} 0x00};\n")
