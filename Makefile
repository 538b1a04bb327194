# SPDX-License-Identifier: GPL-2.0
#
# vdmux: build the module, its tests and the test kernel, and run them in QEMU.
#
#   make              build vdmux.ko against KDIR (default: the cached debug kernel)
#   make check        set up, build, lint, boot the debug kernel and run every test
#   make demo         boot the guest and show vdmux at work
#   make shell        boot the guest with an interactive shell
#   make bench        run the benchmarks on the release kernel into bench/
#   make lint         rustfmt --check and a clippy build with warnings as errors
#   make fmt          format the Rust sources
#   make KDIR=/path   build against another Rust-enabled kernel tree
#
# Variables: KDIR, FLAVOUR (debug|release), EXTRA_TESTS=dir, TESTS="name ...",
# QEMU_TIMEOUT (seconds), ACCEL (tcg|kvm).

SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
.DEFAULT_GOAL := module

LLVM ?= -19
FLAVOUR ?= debug
CACHE := $(or $(VDMUX_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vdmux)
TOP := $(CURDIR)

ifeq ($(origin KDIR),undefined)
KDIR := $(CACHE)/build-$(FLAVOUR)
OWN_KERNEL := 1
endif
# The kernel source behind KDIR (an O= build tree links to it as 'source').
KSRC = $(shell if [ -e $(KDIR)/source ]; then readlink -f $(KDIR)/source; else echo $(KDIR); fi)

OUT := $(TOP)/build/$(FLAVOUR)
MODULE := $(OUT)/module/vdmux.ko
UAPI_RS := $(TOP)/src/uapi_generated.rs
KMAKE = $(MAKE) -C $(KDIR) M=$(TOP) MO=$(OUT)/module LLVM=$(LLVM)
export LIBCLANG_PATH ?= /usr/lib/llvm$(LLVM)/lib
export PATH := $(HOME)/.cargo/bin:$(PATH)

TEST_SRCS := $(wildcard tests/*.c)
TEST_BINS := $(patsubst tests/%.c,$(OUT)/tests/%,$(TEST_SRCS))
TEST_CFLAGS := -static -O2 -g -Wall -Werror -D_GNU_SOURCE -pthread \
	-I$(TOP)/include/uapi -I$(TOP)/tests

.PHONY: module setup kernel fmt lint tests check demo shell bench bench-run clean FORCE

setup:
ifdef OWN_KERNEL
	@scripts/setup.sh
else
	@KDIR=$(KDIR) scripts/setup.sh
endif

kernel: setup
ifdef OWN_KERNEL
	@scripts/build-kernel.sh $(FLAVOUR) >/dev/null
endif
	@test -f $(KDIR)/Module.symvers || { echo "KDIR=$(KDIR) is not a built kernel tree (no Module.symvers: run 'make modules' there)"; exit 1; }
	@grep -q '^CONFIG_RUST=y' $(KDIR)/.config || { echo "KDIR=$(KDIR) is not built with CONFIG_RUST=y"; exit 1; }

# The Rust mirror of the UAPI header, generated so the two cannot disagree.
$(UAPI_RS): include/uapi/vdmux.h scripts/gen-uapi-rs.sh
	@scripts/gen-uapi-rs.sh $< $@

module: kernel $(UAPI_RS)
	@mkdir -p $(OUT)/module
	@$(KMAKE) modules

# The generated UAPI mirror is bindgen's output, not ours to format.
RUST_SRCS = $(filter-out $(UAPI_RS),$(wildcard $(TOP)/src/*.rs))

fmt: kernel
	@rustfmt --edition 2021 --config-path $(KSRC)/.rustfmt.toml $(RUST_SRCS)

lint: kernel $(UAPI_RS)
	@rustfmt --edition 2021 --config-path $(KSRC)/.rustfmt.toml --check $(RUST_SRCS)
	@mkdir -p $(OUT)/clippy
	@$(MAKE) -C $(KDIR) M=$(TOP) MO=$(OUT)/clippy LLVM=$(LLVM) CLIPPY=1 KRUSTFLAGS=-Dwarnings modules
	@echo "lint: ok"

$(OUT)/tests/%: tests/%.c $(wildcard tests/*.h) include/uapi/vdmux.h | kernel
	@mkdir -p $(dir $@)
	@gcc $(TEST_CFLAGS) -I$(KSRC)/tools/testing/selftests -o $@ $< -lpthread

tests: $(TEST_BINS)

check: module lint tests
	@qemu/run.sh check --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/tests \
		--out $(OUT) $(if $(EXTRA_TESTS),--extra $(EXTRA_TESTS)) $(if $(TESTS),--only "$(TESTS)")

demo: module tests
	@qemu/run.sh demo --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/tests --out $(OUT)

shell: module tests
	@qemu/run.sh shell --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/tests --out $(OUT)

# Benchmarks run on the release kernel: `make bench` is `make bench-run`
# with FLAVOUR=release.
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(wildcard tests/bench/*.c))

$(OUT)/bench/%: tests/bench/%.c tests/vdmux_test.h include/uapi/vdmux.h | kernel
	@mkdir -p $(dir $@)
	@gcc $(TEST_CFLAGS) -o $@ $< -lpthread

bench:
	@$(MAKE) FLAVOUR=release bench-run

bench-run: module $(BENCH_BINS)
	@BENCH_DIR=$(OUT)/bench qemu/run.sh bench --kernel $(KDIR) --module $(MODULE) \
		--tests $(OUT)/no-tests --out $(OUT)

clean:
	rm -rf build $(UAPI_RS)
