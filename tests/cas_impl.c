/* The implementation, compiled once per configuration (compiler, flags, sanitizer, defines) and
   linked into every test program, fuzz target and replay driver of that configuration (the
   Makefile, tests/check.sh, tests/portability.sh; tests/testlib.h's CAS_LINK_IMPL). */
#define CAS_TEST_EXPORTS
#define CAS_IMPLEMENTATION
#include "../cas.h"
