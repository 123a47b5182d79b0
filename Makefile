# cas.h - build, test, benchmark, check.  `make` builds build/cas and the test runner.
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -std=c99 -Wall -Wextra -Werror
BUILD   ?= build
HEADERS  = cas.h $(wildcard vendor/*.inc vendor/blake3/*.c vendor/blake3/*.h vendor/zstd/*.c)

.PHONY: all test bench check fuzz clean

all: $(BUILD)/cas $(BUILD)/test

$(BUILD)/cas: examples/cas.c $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) examples/cas.c -o $@

$(BUILD)/test: tests/test_main.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) tests/test_main.c -o $@

$(BUILD)/bench: tests/bench.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) -O3 -g tests/bench.c -o $@ $(BENCH_LIBS)

# Every test: the unit/conformance runner, the CLI, the one-translation-unit build.
test: all
	$(BUILD)/test
	sh tests/cli.sh $(BUILD)/cas
	sh tests/single_tu.sh

# Benchmarks print a table; never timed assertions.  OpenSSL's SHA-256 is the peer when
# libssl-dev is installed.
BENCH_LIBS := $(shell printf '\#include <openssl/sha.h>\nint main(void){return 0;}' | $(CC) -x c - -o /dev/null -lcrypto 2>/dev/null && echo "-DHAVE_OPENSSL -lcrypto")
bench: $(BUILD)/bench
	$(BUILD)/bench

# Sanitizers with gcc and clang, strict C99, no-SIMD, C++ header, symbol and macro hygiene.
check:
	sh tests/check.sh

clean:
	rm -rf $(BUILD)
