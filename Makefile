# pollhub — see README.md. `make` builds, `make run` serves the demo,
# `make check` installs what is missing, builds with sanitizers and tests.

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CPPFLAGS += -Icommon -Ifcgi -I/usr/include/postgresql
LDLIBS   := -lfcgi -ljson-c -lpq -ljwt -lcrypto -lpthread
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

COMMON_SRC := $(wildcard common/*.c)
FCGI_SRC   := $(filter-out fcgi/main.c,$(wildcard fcgi/*.c))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)

BUILD := build
ASAN  := build/asan

OBJ      := $(patsubst %.c,$(BUILD)/%.o,$(COMMON_SRC) $(FCGI_SRC))
ASAN_OBJ := $(patsubst %.c,$(ASAN)/%.o,$(COMMON_SRC) $(FCGI_SRC))
UNIT_BIN := $(patsubst tests/unit/%.c,$(ASAN)/tests/%,$(UNIT_SRC))

.PHONY: all check unit integration browser screenshot fuzz fuzz-smoke run deps test-deps \
	bench bench-deps deps-check clean
all: $(BUILD)/pollhub

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -MMD -MP -c $< -o $@

$(ASAN)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SANITIZE) $(CPPFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/pollhub: $(OBJ) $(BUILD)/fcgi/main.o
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(ASAN)/pollhub: $(ASAN_OBJ) $(ASAN)/fcgi/main.o
	$(CC) $(SANITIZE) $^ $(LDLIBS) -o $@

$(ASAN)/tests/%: $(ASAN)/tests/unit/%.o $(ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(SANITIZE) $^ $(LDLIBS) -o $@

# SQL-level concurrency tests (tests/sql/concurrency.c): one file, libpq only; run by
# tests/integration/sqlconc.test.mjs.
$(ASAN)/tests/sqlconc: tests/sql/concurrency.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SANITIZE) $(CPPFLAGS) $< -lpq -o $@

# The load generator: one file, json-c only.
$(BUILD)/bench/loadgen: tests/bench/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $< -ljson-c -lm -o $@

deps:
	@bash deploy/scripts/install-deps.sh

test-deps:
	@bash deploy/scripts/install-deps.sh --test

# The module graph of common/ and fcgi/ (tests/deps/cycles.sh): no cycle, common/ never
# includes fcgi/, every module in ARCHITECTURE.md. DEPS_STRICT=0 reports without failing.
DEPS_STRICT ?= 1
deps-check:
	@DEPS_STRICT=$(DEPS_STRICT) bash tests/deps/cycles.sh

# Unit tests: one program per module, each printing "N passed, N failed".
unit: deps-check $(UNIT_BIN)
	@bash tests/run-unit.sh $(UNIT_BIN)

# Integration: the sanitizer build behind real lighttpd and Apache and PostgreSQL, once per
# web server and transport (POLLHUB_TEST_MATRIX narrows it).
integration: $(ASAN)/pollhub $(BUILD)/pollhub $(ASAN)/tests/sqlconc
	@POLLHUB_BIN=$(CURDIR)/$(ASAN)/pollhub bash tests/run-integration.sh

# Browser: headless Chromium drives the Kendo DataSource and the demo page, two windows
# at a time, over each web server and transport.
browser: $(ASAN)/pollhub
	@POLLHUB_BIN=$(CURDIR)/$(ASAN)/pollhub bash tests/run-browser.sh

# The README's picture of two demo windows in sync.
screenshot: $(BUILD)/pollhub
	@POLLHUB_BIN=$(CURDIR)/$(BUILD)/pollhub POLLHUB_TEST_MATRIX=lighttpd:LongPolling \
		POLLHUB_DEMO_SCREENSHOT=docs/demo-two-windows.png bash tests/run-browser.sh tests/browser/demo.test.mjs

# libFuzzer harnesses of every parser of untrusted bytes: FUZZ_SECS each.
FUZZ_SECS ?= 60
fuzz:
	@bash tests/fuzz/run.sh $(FUZZ_SECS)

# A short run in `make check`: the committed corpus plus a few seconds of mutation.
fuzz-smoke:
	@bash tests/fuzz/run.sh 5

check: test-deps
	@$(MAKE) --no-print-directory unit fuzz-smoke integration browser

bench-deps:
	@bash deploy/scripts/install-deps.sh --bench

# Load: fan-out, create throughput and idle clients, the release build beside nchan and
# pgbench (tests/bench/README.md). BENCH_QUICK=1 is a smoke run of under a minute.
bench: bench-deps
	@$(MAKE) --no-print-directory $(BUILD)/pollhub $(BUILD)/bench/loadgen
	@POLLHUB_BIN=$(CURDIR)/$(BUILD)/pollhub LOADGEN=$(CURDIR)/$(BUILD)/bench/loadgen \
		bash tests/bench/run.sh

run: deps
	@$(MAKE) --no-print-directory all
	@bash deploy/scripts/run.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
