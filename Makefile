# lambdalite — one readable GNU Makefile (Redis src/Makefile is the model).
#
#   make              build build/lambdalite, the runtime library and the example functions
#   make check        install deps, build, unit + end-to-end tests, again under ASan+UBSan, short fuzz
#   make demo         install deps, build, run the demo end to end (scripts/demo.sh)
#   make bench        benchmarks (bench/), each beside a baseline measured in the same run
#   make fuzz         libFuzzer targets in tests/fuzz (FUZZ_TIME seconds each)
#   make SANITIZE=address,undefined ...   the same targets, built with sanitizers in build-san/

CC ?= cc
SANITIZE ?=
FUZZ_TIME ?= 60
PYTHON := /usr/bin/python3

ifeq ($(SANITIZE),)
BUILD ?= build
SANFLAGS :=
OPT ?= -O2
else
BUILD ?= build-san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT ?= -O1
endif

PKGS := libuv openssl jansson sqlite3 libarchive libcurl libseccomp expat zlib libfyaml
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# -Wno-missing-field-initializers: table rows (routes, actions) leave their trailing options zero.
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Wno-format-truncation -Wno-missing-field-initializers
CFLAGS := -std=gnu11 $(OPT) -g $(WARN) -D_GNU_SOURCE -Isrc $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS := $(SANFLAGS) $(EXTRA_LDFLAGS)
LDLIBS := $(PKG_LIBS) -lm

LIB_SRCS := $(sort $(filter-out src/main.c,$(wildcard src/*/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/obj/%.o)

RT_SRCS := $(sort $(wildcard runtime/*.c))
RT_OBJS := $(RT_SRCS:%.c=$(BUILD)/obj/%.o)
RT_LIB := $(BUILD)/liblambdalite-runtime.a
# What a function links after the runtime library: nothing, it needs only libc.
RT_LIBS :=

EXAMPLES := $(patsubst examples/%/bootstrap.c,$(BUILD)/examples/%/bootstrap,$(wildcard examples/*/bootstrap.c))
# The examples' own tools (examples/NAME/TOOL.c -> BUILD/examples/NAME/TOOL: generators, ...)
EXAMPLE_TOOLS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(filter-out %/bootstrap.c,$(wildcard examples/*/*.c)))
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCHES := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

# Keep intermediate objects (the fuzz build links them into several targets).
.SECONDARY:

.PHONY: all deps check unit e2e runtime-tests demo bench fuzz fuzz-build clean format
all: $(BUILD)/lambdalite $(BUILD)/unit-tests $(RT_LIB) $(EXAMPLES) $(EXAMPLE_TOOLS) $(BENCHES)

# V=1 shows the full commands.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/runtime/%.o: runtime/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) -Iruntime -c $< -o $@

$(BUILD)/lambdalite: $(BUILD)/obj/src/main.o $(LIB_OBJS)
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJS) $(LIB_OBJS)
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(RT_LIB): $(RT_OBJS)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

# Functions written with the runtime library: examples/NAME/bootstrap.c -> BUILD/examples/NAME/bootstrap
$(BUILD)/examples/%/bootstrap: examples/%/bootstrap.c $(RT_LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -Iruntime -o $@ $< $(RT_LIB) $(LDFLAGS) $(RT_LIBS) -lm

$(BUILD)/examples/%: examples/%.c
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lm

$(BUILD)/bench/%: bench/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS) -lpthread

deps:
	@bash scripts/deps.sh

unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

# The runtime library against a fake Runtime API (runtime/tests).
runtime-tests: all
	SANITIZE=$(SANITIZE) bash runtime/tests/run.sh

e2e: all
	LAMBDALITE_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) runtime-tests
	$(MAKE) e2e
	$(MAKE) SANITIZE=address,undefined all
	$(MAKE) SANITIZE=address,undefined unit
	$(MAKE) SANITIZE=address,undefined runtime-tests
	$(MAKE) SANITIZE=address,undefined e2e
	$(MAKE) fuzz FUZZ_TIME=10

demo: deps
	$(MAKE) all
	bash scripts/demo.sh $(abspath $(BUILD))

bench: all
	bash bench/run.sh $(abspath $(BUILD))

# libFuzzer: every tests/fuzz/NAME.c is a target linked against the library objects built
# with clang and -fsanitize=fuzzer-no-link,address,undefined in build-fuzz/.
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(filter-out -Wno-format-truncation,$(WARN)) -D_GNU_SOURCE -Isrc -Iruntime $(PKG_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP
FUZZ_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/*.c))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CLANG,$<)
	$(Q)clang $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_OBJS)
	$(call say,FUZZ,$@)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJS) $(LDLIBS)

fuzz-build: $(FUZZ_TARGETS)

fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  name=$$(basename $$t); corpus=$(FUZZ_BUILD)/corpus/$$name; mkdir -p $$corpus; \
	  seeds=tests/fuzz/corpus/$$name; [ -d $$seeds ] || seeds=; \
	  echo "fuzz: $$name for $(FUZZ_TIME)s"; \
	  $$t -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 $$corpus $$seeds 2>$(FUZZ_BUILD)/$$name.log \
	    || { tail -n 60 $(FUZZ_BUILD)/$$name.log; exit 1; }; \
	  grep -E '^(#[0-9]+.*DONE|Done)' $(FUZZ_BUILD)/$$name.log | tail -n 1; \
	done

format:
	clang-format -i $(wildcard src/*/*.c src/*/*.h src/*.c runtime/*.c runtime/*.h tests/unit/*.c tests/fuzz/*.c bench/*.c examples/*/*.c)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find build build-san build-fuzz -name '*.d' 2>/dev/null)
