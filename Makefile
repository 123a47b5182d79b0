# cas.h - build, test, benchmark, check.  `make` builds build/cas and the test runner.
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -std=c99 -Wall -Wextra -Werror
BUILD   ?= build
HEADERS  = cas.h $(wildcard vendor/*.inc vendor/blake3/*.c vendor/blake3/*.h vendor/zstd/*.c)

.PHONY: all test bench check fuzz fuzz-replay clean

all: $(BUILD)/cas $(BUILD)/test

# `cas get`/`put` need libcurl (Debian: libcurl4-openssl-dev); without its headers the tool
# builds without them and says so. The library itself never links anything. The probe
# preprocesses an empty file with `-include curl/curl.h`, so no '#' has to survive make's
# quoting (GNU make 4.3 keeps `\#` in $(shell), which made the old probe always succeed).
# CAS_CURL=0 or 1 overrides it.
CAS_CURL   ?= $(shell $(CC) -E -include curl/curl.h -x c /dev/null >/dev/null 2>&1 && echo 1 || echo 0)
CURL_FLAGS := $(if $(filter 1,$(CAS_CURL)),-DCAS_WITH_CURL)
CURL_LIBS  := $(if $(CURL_FLAGS),-lcurl)
$(BUILD)/cas: examples/cas.c $(HEADERS)
	@mkdir -p $(BUILD)
	@$(if $(CURL_FLAGS),:,echo "note: libcurl headers not found: building $@ without get/put (apt-get install libcurl4-openssl-dev)")
	$(CC) $(WARN) $(CFLAGS) $(CURL_FLAGS) -pthread examples/cas.c -o $@ $(CURL_LIBS)

$(BUILD)/test: tests/test_main.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) tests/test_main.c -o $@

$(BUILD)/bench: tests/bench.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) -O3 -g tests/bench.c -o $@ $(BENCH_LIBS)

# LZ4 tests and benchmark use liblz4 + the lz4 CLI as oracles/peers (test-only: the library
# never links them). Debian: apt-get install liblz4-dev lz4.
$(BUILD)/test_lz4: tests/test_lz4.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) tests/test_lz4.c -o $@ -llz4
$(BUILD)/bench_lz4: tests/bench_lz4.c $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) -O3 -g tests/bench_lz4.c -o $@ -llz4

$(BUILD)/test_shard: tests/test_shard.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) tests/test_shard.c -o $@
$(BUILD)/test_json: tests/test_json.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) tests/test_json.c -o $@
$(BUILD)/test_json_upload: tests/test_json_upload.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) tests/test_json_upload.c -o $@
$(BUILD)/test_upload: tests/test_upload.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) tests/test_upload.c -o $@
$(BUILD)/test_multipart: tests/test_multipart.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) tests/test_multipart.c -o $@
$(BUILD)/test_download: tests/test_download.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) tests/test_download.c -o $@
$(BUILD)/test_subtree: tests/test_subtree.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) tests/test_subtree.c -o $@
$(BUILD)/test_limits: tests/test_limits.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) tests/test_limits.c -o $@
# The limits a host may redefine before including cas.h, redefined: the same probes follow them.
LIMITS_OVERRIDE := -DCAS_ZSTD_MAX_WINDOW_LOG=20 -DCAS_MULTIPART_MAX_HEADER=1000 -DCAS_MULTIPART_MAX_PREAMBLE=300
$(BUILD)/test_limits_override: tests/test_limits.c tests/testlib.h $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(LIMITS_OVERRIDE) tests/test_limits.c -o $@

# Every test: the unit/conformance runner, LZ4 interop, shards, JSON, multipart, the engines,
# the limits (also with overridden ones), the CLI against the test server, the 4.5 GB round
# trip, the one-TU build, the fuzz corpora replayed.
test: all $(BUILD)/test_lz4 $(BUILD)/test_shard $(BUILD)/test_json $(BUILD)/test_upload \
      $(BUILD)/test_multipart $(BUILD)/test_download $(BUILD)/test_subtree $(BUILD)/test_json_upload \
      $(BUILD)/test_limits $(BUILD)/test_limits_override
	$(BUILD)/test
	$(BUILD)/test_lz4
	$(BUILD)/test_shard
	$(BUILD)/test_json
	$(BUILD)/test_json_upload
	$(BUILD)/test_upload tests/vectors
	$(BUILD)/test_multipart
	$(BUILD)/test_download
	$(BUILD)/test_subtree tests/vectors
	$(BUILD)/test_limits
	$(BUILD)/test_limits_override zstd "multipart body"
	sh tests/cli.sh $(BUILD)/cas
	sh tests/cli_put.sh $(BUILD)/cas
	sh tests/cli_shard.sh $(BUILD)/cas
	sh tests/cli_pack.sh $(BUILD)/cas
	sh tests/cli_safety.sh $(BUILD)/cas
	sh tests/cli_download.sh $(BUILD)/cas
	sh tests/big_roundtrip.sh $(BUILD)/cas
	sh tests/single_tu.sh
	$(MAKE) --no-print-directory fuzz-replay

# Benchmarks print a table; never timed assertions.  OpenSSL's SHA-256 is the peer when
# libssl-dev is installed.
BENCH_LIBS := $(shell echo 'int SHA256_Init(void); int main(void){return SHA256_Init();}' | $(CC) -x c - -o /dev/null -lcrypto 2>/dev/null && test -f /usr/include/openssl/sha.h && echo "-DHAVE_OPENSSL -lcrypto")
bench: $(BUILD)/bench $(BUILD)/bench_lz4 $(BUILD)/cas
	$(BUILD)/bench
	$(BUILD)/bench_lz4
	sh tests/bench_pack.sh $(BUILD)/cas

# Sanitizers with gcc and clang, strict C99, no-SIMD, C++ header, symbol and macro hygiene.
check:
	sh tests/check.sh

# Fuzzing: every fuzz/fuzz_<name>.c becomes build/fuzz/<name> (libFuzzer, ASan+UBSan, clang)
# and runs for FUZZ_SECONDS on a copy of its corpus; `fuzz-replay` runs the corpora through a
# plain driver (no libFuzzer needed), as a regression test. A target's extra link flags (a
# test-only oracle such as -llz4) go in fuzz/<name>.libs.
FUZZ_SECONDS ?= 60
FUZZ_NAMES    = $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SAN      = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all
$(BUILD)/fuzz/%: fuzz/fuzz_%.c $(HEADERS) tests/testlib.h fuzz/fuzzlib.h
	@mkdir -p $(BUILD)/fuzz
	clang $(WARN) $(FUZZ_SAN) -fsanitize-ignorelist=fuzz/sanitize-ignore.txt -fsanitize=fuzzer -DCAS_FUZZING $< -o $@ \
	  $(shell cat fuzz/$*.libs 2>/dev/null)
$(BUILD)/fuzz-replay/%: fuzz/fuzz_%.c fuzz/replay.c $(HEADERS) tests/testlib.h fuzz/fuzzlib.h
	@mkdir -p $(BUILD)/fuzz-replay
	$(CC) $(WARN) $(FUZZ_SAN) -DCAS_FUZZING $< fuzz/replay.c -o $@ \
	  $(shell cat fuzz/$*.libs 2>/dev/null)
fuzz: $(addprefix $(BUILD)/fuzz/,$(FUZZ_NAMES))
	@for n in $(FUZZ_NAMES); do \
	  echo "== fuzz $$n for $(FUZZ_SECONDS) s"; \
	  mkdir -p $(BUILD)/fuzz/corpus-$$n && cp -n fuzz/corpus/$$n/* $(BUILD)/fuzz/corpus-$$n/ 2>/dev/null; \
	  dict=; [ -f fuzz/$$n.dict ] && dict=-dict=fuzz/$$n.dict; \
	  $(BUILD)/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=1048576 -print_final_stats=1 $$dict \
	    -artifact_prefix=$(BUILD)/fuzz/$$n- $(BUILD)/fuzz/corpus-$$n fuzz/corpus/$$n || exit 1; \
	done
fuzz-replay: $(addprefix $(BUILD)/fuzz-replay/,$(FUZZ_NAMES))
	@for n in $(FUZZ_NAMES); do printf '%s ' $$n; $(BUILD)/fuzz-replay/$$n fuzz/corpus/$$n || exit 1; done

clean:
	rm -rf $(BUILD)
