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
#   make tool         build vdmuxctl (static) into build/FLAVOUR/bin
#   make tool-test    run vdmuxctl's unit tests on the host
#   make install      install vdmux.ko, vdmuxctl, the UAPI header and the udev rule
#   make uninstall    remove what 'make install' installed
#   make KDIR=/path   build against another Rust-enabled kernel tree
#
# Variables: KDIR, FLAVOUR (debug|release), EXTRA_TESTS=dir, TESTS="name ...",
# GUEST_ENV="NAME=value ..." (environment of the guest's tests),
# QEMU_TIMEOUT (seconds), ACCEL (tcg|kvm); for install and uninstall also
# DESTDIR, INSTALL_MOD_PATH, INSTALL_MOD_DIR, BINDIR, INCLUDEDIR, UDEVRULESDIR.

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
export GUEST_ENV

# The demo and its helper are not tests: they go into the demo guest only.
DEMO_FILES := tests/demo.sh tests/demo_term.c
TEST_SRCS := $(filter-out $(DEMO_FILES),$(wildcard tests/*.c))
TEST_SCRIPTS := $(filter-out $(DEMO_FILES),$(wildcard tests/*.sh))
TEST_BINS := $(patsubst tests/%.c,$(OUT)/tests/%,$(TEST_SRCS)) \
	$(patsubst tests/%,$(OUT)/tests/%,$(TEST_SCRIPTS))
DEMO_BINS := $(OUT)/demo/demo.sh $(OUT)/demo/demo_term
TEST_CFLAGS := -static -O2 -g -Wall -Werror -D_GNU_SOURCE -pthread \
	-I$(TOP)/include/uapi -I$(TOP)/tests

# vdmuxctl: a static binary, so that it runs in the busybox guest as is.
TOOL_DIR := $(TOP)/tools/vdmuxctl
TOOL_TARGET := x86_64-unknown-linux-gnu
CARGO_OUT := $(TOP)/build/cargo
VDMUXCTL := $(OUT)/bin/vdmuxctl
CARGO = cd $(TOOL_DIR) && CARGO_TARGET_DIR=$(CARGO_OUT) cargo
# mkinitramfs.sh puts every program in this directory into the guest's /usr/bin.
export VDMUX_BIN := $(OUT)/bin

# Where 'make install' puts things.
BINDIR ?= /usr/bin
INCLUDEDIR ?= /usr/include
UDEVRULESDIR ?= /etc/udev/rules.d
SYSUSERSDIR ?= /usr/lib/sysusers.d
INSTALL_MOD_DIR ?= updates

.PHONY: module setup kernel fmt lint tests check judge-test demo shell bench bench-run clean FORCE \
	tool tool-test tool-lint install uninstall

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
	@$(CARGO) fmt

lint: kernel $(UAPI_RS) tool-lint
	@rustfmt --edition 2021 --config-path $(KSRC)/.rustfmt.toml --check $(RUST_SRCS)
	@mkdir -p $(OUT)/clippy
	@$(MAKE) -C $(KDIR) M=$(TOP) MO=$(OUT)/clippy LLVM=$(LLVM) CLIPPY=1 KRUSTFLAGS=-Dwarnings modules
	@echo "lint: ok"

tool-lint:
	@$(CARGO) fmt --check
	@$(CARGO) clippy --locked --quiet --all-targets -- -D warnings

tool-test:
	@$(CARGO) test --locked --quiet

# Cargo knows when to rebuild; the copy keeps its timestamp when nothing did.
# RUSTFLAGS applies to the --target build only, not to build.rs.
tool: FORCE
	@cd $(TOOL_DIR) && CARGO_TARGET_DIR=$(CARGO_OUT) RUSTFLAGS="-C target-feature=+crt-static" \
		cargo build --locked --quiet --release --target $(TOOL_TARGET)
	@mkdir -p $(dir $(VDMUXCTL))
	@cmp -s $(CARGO_OUT)/$(TOOL_TARGET)/release/vdmuxctl $(VDMUXCTL) || \
		install -m 0755 $(CARGO_OUT)/$(TOOL_TARGET)/release/vdmuxctl $(VDMUXCTL)

$(OUT)/tests/%: tests/%.c $(wildcard tests/*.h) include/uapi/vdmux.h | kernel
	@mkdir -p $(dir $@)
	@gcc $(TEST_CFLAGS) -I$(KSRC)/tools/testing/selftests -o $@ $< -lpthread

$(OUT)/tests/%.sh: tests/%.sh
	@install -D -m 0755 $< $@

$(OUT)/demo/demo.sh: tests/demo.sh
	@install -D -m 0755 $< $@

$(OUT)/demo/demo_term: tests/demo_term.c tests/vdmux_test.h include/uapi/vdmux.h
	@mkdir -p $(dir $@)
	@gcc $(TEST_CFLAGS) -o $@ $<

tests: $(TEST_BINS) tool

# The tool's unit tests run first: no point booting a guest for a tool that
# fails them. The demo's programs are built too, so that a change that
# breaks `make demo` fails the check.
check: tool-test judge-test module lint tests $(DEMO_BINS)
	@qemu/run.sh check --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/tests \
		--out $(OUT) $(if $(EXTRA_TESTS),--extra $(EXTRA_TESTS)) $(if $(TESTS),--only "$(TESTS)")

# The judge must fail every broken run of its self-test.
judge-test:
	@python3 qemu/test_results.py

# The demo guest's /tests holds only the demo, which its /init runs.
demo: module tool $(DEMO_BINS)
	@qemu/run.sh demo --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/demo --out $(OUT)

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

# The module goes where the kernel in KDIR looks for it (depmod included):
# for the running kernel, KDIR=/lib/modules/$$(uname -r)/build.
install: module tool
	@$(KMAKE) modules_install INSTALL_MOD_DIR=$(INSTALL_MOD_DIR)
	install -D -m 0644 include/uapi/vdmux.h $(DESTDIR)$(INCLUDEDIR)/linux/vdmux.h
	install -D -m 0755 $(VDMUXCTL) $(DESTDIR)$(BINDIR)/vdmuxctl
	install -D -m 0644 scripts/60-vdmux.rules $(DESTDIR)$(UDEVRULESDIR)/60-vdmux.rules
	install -D -m 0644 scripts/vdmux.sysusers $(DESTDIR)$(SYSUSERSDIR)/vdmux.conf

uninstall:
	@set -e; release=$$(cat $(KDIR)/include/config/kernel.release); \
	dir="$(INSTALL_MOD_PATH)/lib/modules/$$release"; \
	echo "rm -f $$dir/$(INSTALL_MOD_DIR)/vdmux.ko*"; \
	rm -f "$$dir/$(INSTALL_MOD_DIR)"/vdmux.ko*; \
	rmdir "$$dir/$(INSTALL_MOD_DIR)" 2>/dev/null || true; \
	if [ -f "$$dir/modules.dep" ] && command -v depmod >/dev/null; then \
		echo "depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH) )$$release"; \
		depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) "$$release"; \
	fi
	rm -f $(DESTDIR)$(INCLUDEDIR)/linux/vdmux.h $(DESTDIR)$(BINDIR)/vdmuxctl \
		$(DESTDIR)$(UDEVRULESDIR)/60-vdmux.rules $(DESTDIR)$(SYSUSERSDIR)/vdmux.conf

clean:
	rm -rf build $(UAPI_RS)
