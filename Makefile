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
#   make tool-test    run the vdmux crate's and vdmuxctl's unit tests on the host
#   make tool-uapi    regenerate the vdmux crate's committed UAPI bindings
#   make install      install vdmux.ko, vdmuxctl, the man pages, completions, the UAPI
#                     header and the udev rule (KDIR=/usr/src/linux-headers-*: Debian's)
#   make uninstall    remove what 'make install' installed
#   make KDIR=/path   build against another Rust-enabled kernel tree
#   make debian       vdmux.ko for Debian's stock kernel, with Debian's toolchain
#   make check-debian boot Debian's own kernel image and run the functional tests
#   make check-dkms   dkms add, build, install and remove against the test kernel
#   make deb          the vdmux-dkms and vdmuxctl packages (debian/), built and
#                     lintian-checked in a trixie build root, into build/deb
#   make check-deb    install them in a trixie image, let dkms build the module for
#                     Debian's kernel, boot it with the functional tests, purge
#   make check-large  the largest size (1 GiB) in a 5 GiB guest
#   make soak         the racing programs for SOAK_SECONDS each (600), not make check's seconds
#   make check-lockdown the test kernel booted with lockdown=integrity: what it refuses
#   make check-clients fio, stress-ng and trinity (static builds) against the nodes in the guest
#   make check-screen the virtual terminals on QEMU's standard VGA, the screen checked by the host
#   make kbuild       vdmux.ko against KDIR, with no set-up (what dkms.conf runs)
#   make tool-man     regenerate tools/man/vdmuxctl.8 from vdmuxctl's command line
#
# Variables: KDIR, FLAVOUR (debug|release|kcsan), EXTRA_TESTS=dir, TESTS="name ...",
# ARCH=arm64 [PAGE_SIZE=4K|16K|64K] (the module, the tests and the guest for
# arm64, on QEMU's virt machine: make check ARCH=arm64),
# GUEST_ENV="NAME=value ..." (environment of the guest's tests),
# QEMU_TIMEOUT (seconds), ACCEL (tcg|kvm), IVSHMEM_SIZE (the guest's ivshmem BAR, 64M),
# IVSHMEM2_SIZE (the second ivshmem device's, 16M),
# PCI_PASS_TESTS (run again with device_memory=pci); for install and uninstall also
# DESTDIR, INSTALL_MOD_PATH, INSTALL_MOD_DIR, BINDIR, INCLUDEDIR, UDEVRULESDIR.

SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
.DEFAULT_GOAL := module

LLVM ?= -19
FLAVOUR ?= debug
CACHE := $(or $(VDMUX_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vdmux)
TOP := $(CURDIR)

# ARCH=arm64: everything is cross-built for QEMU's virt machine, with the
# LLVM the kernel is built with; each page size has a kernel and a build
# directory of its own (build-arm64-64k-debug, build/arm64-64k-debug).
ifeq ($(ARCH),arm64)
PAGE_SIZE ?= 4K
ifeq ($(filter 4K 16K 64K,$(PAGE_SIZE)),)
$(error PAGE_SIZE=$(PAGE_SIZE): arm64 pages are 4K, 16K or 64K)
endif
ARCH_TAG := arm64$(if $(filter-out 4K,$(PAGE_SIZE)),-$(if $(filter 16K,$(PAGE_SIZE)),16k,64k))-
export ARCH PAGE_SIZE
else ifneq ($(filter-out x86_64 x86,$(ARCH)),)
$(error ARCH=$(ARCH): vdmux is checked on x86_64 and arm64)
endif

ifeq ($(origin KDIR),undefined)
KDIR := $(CACHE)/build-$(ARCH_TAG)$(FLAVOUR)
OWN_KERNEL := 1
endif
# The kernel source behind KDIR (an O= build tree links to it as 'source').
KSRC = $(shell if [ -e $(KDIR)/source ]; then readlink -f $(KDIR)/source; else echo $(KDIR); fi)

OUT := $(TOP)/build/$(ARCH_TAG)$(FLAVOUR)
MODULE := $(OUT)/module/vdmux.ko
UAPI_RS := $(TOP)/src/uapi_generated.rs
HELPERS_RS := $(TOP)/src/c_helpers_generated.rs
PCI_HELPERS_RS := $(TOP)/src/pci_helpers_generated.rs
GENERATED_RS := $(UAPI_RS) $(HELPERS_RS) $(PCI_HELPERS_RS)
KMAKE = $(MAKE) -C $(KDIR) M=$(TOP) MO=$(OUT)/module LLVM=$(LLVM)
export LIBCLANG_PATH ?= /usr/lib/llvm$(LLVM)/lib
export PATH := $(HOME)/.cargo/bin:$(PATH)
# The pinned Rust toolchain (rust-toolchain.toml): cargo would find the file
# by itself, but kbuild runs rustc, rustfmt and clippy from the kernel tree.
# The module's source that dkms builds has no such file: its rustc is the
# system's.
ifneq ($(wildcard $(TOP)/rust-toolchain.toml),)
export RUSTUP_TOOLCHAIN ?= $(shell sed -n 's/^channel *= *"\([^"]*\)".*/\1/p' $(TOP)/rust-toolchain.toml)
endif
export GUEST_ENV

# The demo and its helper are not tests: they go into the demo guest only.
DEMO_FILES := tests/demo.sh tests/demo_term.c
TEST_SRCS := $(filter-out $(DEMO_FILES),$(wildcard tests/*.c))
# Shell code the test scripts source: installed without the executable bit.
TEST_LIBS := tests/vdmuxctl_lib.sh
TEST_SCRIPTS := $(filter-out $(DEMO_FILES) $(TEST_LIBS),$(wildcard tests/*.sh))
# The functional tests also run as 32-bit programs (compat_ioctl, the 32-bit
# layout of the UAPI structures).
TESTS_M32 := ioctl_test mmap_test events_test autogrow_test populate_test ctxmgt_test
# The tests' C compiler: the host's gcc, or for arm64 clang (gcc-multilib,
# which the -m32 builds need, conflicts with Debian's aarch64 gcc) with
# Debian's arm64 libc (libc6-dev-arm64-cross). arm64 has no 32-bit builds
# (qemu/skips-arm64 says why).
TEST_CC := gcc
ifeq ($(ARCH),arm64)
TEST_CC := clang$(LLVM) --target=aarch64-linux-gnu -fuse-ld=lld
TESTS_M32 :=
endif
# kselftest_harness.h casts pointers to intmax_t in EXPECT_*(NULL, ...).
M32_CFLAGS := -Wno-pointer-to-int-cast -Wno-int-to-pointer-cast
TEST_BINS := $(patsubst tests/%.c,$(OUT)/tests/%,$(TEST_SRCS)) \
	$(patsubst tests/%,$(OUT)/tests/%,$(TEST_SCRIPTS) $(TEST_LIBS)) \
	$(patsubst %,$(OUT)/tests/%-m32,$(TESTS_M32))
DEMO_BINS := $(OUT)/demo/demo.sh $(OUT)/demo/demo_term
# The screen check's programs (make check-screen, make demo SCREEN=1).
SCREEN_BINS := $(patsubst tests/screen/%.c,$(OUT)/screen/%,$(wildcard tests/screen/*.c))
TEST_CFLAGS := -static -O2 -g -Wall -Werror -D_GNU_SOURCE -pthread \
	-I$(TOP)/include/uapi -I$(TOP)/tests

# vdmuxctl: a static binary, so that it runs in the busybox guest as is.
# tools/ is a Cargo workspace: the vdmux crate and vdmuxctl, built on it.
TOOL_DIR := $(TOP)/tools
TOOL_TARGET := x86_64-unknown-linux-gnu
TOOL_RUSTFLAGS := -C target-feature=+crt-static
ifeq ($(ARCH),arm64)
TOOL_TARGET := aarch64-unknown-linux-gnu
# Linked by clang for aarch64 with lld against Debian's arm64 libc.
TOOL_RUSTFLAGS += -C linker=clang$(LLVM) -C link-arg=--target=aarch64-linux-gnu -C link-arg=-fuse-ld=lld
endif
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

.PHONY: module setup kernel fmt lint tests check judge-test demo shell bench bench-run clean FORCE soak \
	tool tool-test tool-lint tool-man install uninstall debian check-debian debian-run \
	kbuild check-dkms check-large check-lockdown check-clients deb check-deb check-screen

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

# The Rust declarations of the module's C helpers, generated from their
# header, which the C compiler checks c_helpers.c against.
$(HELPERS_RS): src/c_helpers.h scripts/gen-helpers-rs.sh
	@scripts/gen-helpers-rs.sh $< $@

$(PCI_HELPERS_RS): src/pci_helpers.h scripts/gen-helpers-rs.sh
	@scripts/gen-helpers-rs.sh $< $@

# A kernel that checks module signatures (the lockdown LSM brings
# CONFIG_MODULE_SIG, as on Debian) gets vdmux.ko signed with its own build
# key, so that loading it taints nothing but O; once, since sign-file appends.
SIG_MAGIC := ~Module signature appended~
module: kernel $(GENERATED_RS)
	@mkdir -p $(OUT)/module
	@$(KMAKE) modules
	@if grep -qs '^CONFIG_MODULE_SIG=y' $(KDIR)/.config && [ -f $(KDIR)/certs/signing_key.pem ] && \
		! tail -c 28 $(MODULE) | grep -qF '$(SIG_MAGIC)'; then \
		$(KDIR)/scripts/sign-file $$(sed -n 's/^CONFIG_MODULE_SIG_HASH="\(.*\)"/\1/p' $(KDIR)/.config) \
			$(KDIR)/certs/signing_key.pem $(KDIR)/certs/signing_key.x509 $(MODULE); \
	fi

# The generated files are bindgen's output, not ours to format.
RUST_SRCS = $(filter-out $(GENERATED_RS),$(shell find $(TOP)/src -name '*.rs'))

fmt: kernel
	@rustfmt --edition 2021 --config-path $(KSRC)/.rustfmt.toml $(RUST_SRCS)
	@$(CARGO) fmt

lint: kernel $(GENERATED_RS) tool-lint
	@rustfmt --edition 2021 --config-path $(KSRC)/.rustfmt.toml --check $(RUST_SRCS)
	@mkdir -p $(OUT)/clippy
	@$(MAKE) -C $(KDIR) M=$(TOP) MO=$(OUT)/clippy LLVM=$(LLVM) CLIPPY=1 KRUSTFLAGS=-Dwarnings modules
	@echo "lint: ok"

# Licence sanity as cargo deny does it: every crate GPL-2.0 compatible. The
# vdmux crate's documentation must build without a warning (broken links).
tool-lint: tool-uapi-check
	@$(CARGO) fmt --check
	@$(CARGO) clippy --locked --quiet --workspace --all-targets -- -D warnings
	@RUSTDOCFLAGS="-D warnings" $(CARGO) doc --locked --quiet --no-deps --workspace
	@$(CARGO) metadata --format-version 1 --locked | python3 $(TOP)/scripts/check-licenses.py

# Every crate's tests, the vdmux crate's documentation examples (compiled)
# and its drift test against include/uapi/vdmux.h.
tool-test:
	@$(CARGO) test --locked --quiet --workspace

# The vdmux crate's bindings are committed (building it needs no bindgen):
# tool-uapi regenerates them, and tool-lint fails while they are stale.
CRATE_UAPI_RS := $(TOOL_DIR)/vdmux/src/uapi_generated.rs
.PHONY: tool-uapi tool-uapi-check
tool-uapi:
	@scripts/gen-uapi-rs.sh include/uapi/vdmux.h $(CRATE_UAPI_RS)

tool-uapi-check:
	@mkdir -p $(OUT)
	@scripts/gen-uapi-rs.sh include/uapi/vdmux.h $(OUT)/uapi_generated.rs
	@cmp -s $(OUT)/uapi_generated.rs $(CRATE_UAPI_RS) || \
		{ echo "$(CRATE_UAPI_RS) is stale: run 'make tool-uapi' and commit it"; exit 1; }

# vdmuxctl(8) is generated from the command line (clap_mangen) by the hidden
# 'vdmuxctl generate DIR'; a unit test fails when the committed page is stale.
tool-man:
	@$(CARGO) run --locked --quiet --bin vdmuxctl -- generate $(OUT)/share
	@cp $(OUT)/share/vdmuxctl.8 tools/man/vdmuxctl.8

# Cargo knows when to rebuild; the copy keeps its timestamp when nothing did.
# The vdmux crate's examples go onto the guest's PATH as vdmux-example-NAME,
# for tests/vdmux_crate_test.sh.
CRATE_EXAMPLES := $(patsubst $(TOOL_DIR)/vdmux/examples/%.rs,%,$(wildcard $(TOOL_DIR)/vdmux/examples/*.rs))
# RUSTFLAGS applies to the --target build only, not to build.rs.
tool: FORCE
	@cd $(TOOL_DIR) && CARGO_TARGET_DIR=$(CARGO_OUT) RUSTFLAGS="$(TOOL_RUSTFLAGS)" \
		cargo build --locked --quiet --release --target $(TOOL_TARGET) --workspace --bins
	@cd $(TOOL_DIR) && CARGO_TARGET_DIR=$(CARGO_OUT) RUSTFLAGS="$(TOOL_RUSTFLAGS)" \
		cargo build --locked --quiet --release --target $(TOOL_TARGET) -p vdmux --examples
	@mkdir -p $(dir $(VDMUXCTL))
	@cmp -s $(CARGO_OUT)/$(TOOL_TARGET)/release/vdmuxctl $(VDMUXCTL) || \
		install -m 0755 $(CARGO_OUT)/$(TOOL_TARGET)/release/vdmuxctl $(VDMUXCTL)
	@for e in $(CRATE_EXAMPLES); do \
		bin=$(VDMUX_BIN)/vdmux-example-$$(echo $$e | tr _ -); \
		cmp -s $(CARGO_OUT)/$(TOOL_TARGET)/release/examples/$$e $$bin || \
			install -m 0755 $(CARGO_OUT)/$(TOOL_TARGET)/release/examples/$$e $$bin; \
	done

# check-debian builds the tests against Debian's tree, which needs no set-up.
KERNEL_PREREQ ?= kernel
$(OUT)/tests/%: tests/%.c $(wildcard tests/*.h) include/uapi/vdmux.h | $(KERNEL_PREREQ)
	@mkdir -p $(dir $@)
	@$(TEST_CC) $(TEST_CFLAGS) -I$(KSRC)/tools/testing/selftests -o $@ $< -lpthread

$(OUT)/tests/%-m32: tests/%.c $(wildcard tests/*.h) include/uapi/vdmux.h | $(KERNEL_PREREQ)
	@mkdir -p $(dir $@)
	@gcc -m32 $(TEST_CFLAGS) $(M32_CFLAGS) -I$(KSRC)/tools/testing/selftests -o $@ $< -lpthread

$(patsubst tests/%,$(OUT)/tests/%,$(TEST_LIBS)): $(OUT)/tests/%: tests/%
	@install -D -m 0644 $< $@

$(OUT)/tests/%.sh: tests/%.sh
	@install -D -m 0755 $< $@

$(OUT)/demo/demo.sh: tests/demo.sh
	@install -D -m 0755 $< $@

$(OUT)/demo/demo_term: tests/demo_term.c tests/vdmux_test.h include/uapi/vdmux.h
	@mkdir -p $(dir $@)
	@$(TEST_CC) $(TEST_CFLAGS) -o $@ $<

# The demo's terminal is on the test guest's PATH too: vdmuxctl_events_test.sh
# grows the device with its autogrow store.
$(VDMUX_BIN)/demo_term: tests/demo_term.c tests/vdmux_test.h include/uapi/vdmux.h
	@mkdir -p $(dir $@)
	@$(TEST_CC) $(TEST_CFLAGS) -o $@ $<

# The vdmuxctl tests read generations with it, not with vdmuxctl.
$(VDMUX_BIN)/vdmux-status: tests/tools/vdmux_status.c include/uapi/vdmux.h
	@mkdir -p $(dir $@)
	@$(TEST_CC) $(TEST_CFLAGS) -o $@ $<

# The guest runs every executable in $(OUT)/tests: what no source produces
# any more (a removed or renamed test) goes, so that it is never run.
tests: $(TEST_BINS) tool $(VDMUX_BIN)/demo_term $(VDMUX_BIN)/vdmux-status
	@for f in $(OUT)/tests/* $(OUT)/tests/.[!.]*; do \
		[ -e "$$f" ] || continue; \
		case " $(TEST_BINS) " in *" $$f "*) ;; *) echo "tests: removing $$f (no source)"; rm -rf "$$f" ;; esac; \
	done

# The tool's unit tests run first: no point booting a guest for a tool that
# fails them. The demo's programs are built too, so that a change that
# breaks `make demo` fails the check.
# FLAVOUR=kcsan: the data-race kernel has no kmemleak (KCSAN and KASAN
# exclude each other, and the flavour keeps its instrumentation to KCSAN);
# by default it runs the programs that race the most.
KCSAN_TESTS := stress_test fuzz_test teardown_test race_test events_test mmap_test huge_test \
	autogrow_test populate_test ctxmgt_test
ifeq ($(FLAVOUR),kcsan)
TESTS ?= $(KCSAN_TESTS)
CHECK_JUDGE := --allow-skips qemu/skips-kcsan
endif
# Pages larger than 4 KiB (PAGE_SIZE=16K or 64K): a store's chunk holds no
# PMD block, and the tests of PMD mappings of RAM skip, saying so.
ifneq ($(filter 16K 64K,$(PAGE_SIZE)),)
CHECK_JUDGE += --allow-skips qemu/skips-largepages
endif
# The arm64 guest (qemu/run.sh --arch) and what it skips, with why.
ifeq ($(ARCH),arm64)
RUN_ARCH := --arch arm64
CHECK_JUDGE += --allow-skips qemu/skips-arm64
endif

# The guest has an ivshmem-plain device whose 64 MiB BAR 2 (the largest
# reserved size the functional tests resize to) is the device memory of
# device_memory=pci: pci_test uses it, and the functional tests of
# PCI_PASS_TESTS run a second time in that mode (sections NAME@pci).
IVSHMEM_SIZE ?= 64M
PCI_PASS_TESTS ?= ioctl_test mmap_test events_test populate_test ctxmgt_test
# A second ivshmem-plain device, of another size: multi_test binds both at
# once (one multiplexer each); the other PCI tests find the first one
# first, and see the second bound too.
IVSHMEM2_SIZE ?= 16M
# Run in the pci pass of this guest only (they need both devices).
MULTI_PASS_TESTS := vdmuxctl_device_test.sh

check: tool-test judge-test module lint tests $(DEMO_BINS)
	@qemu/run.sh check $(RUN_ARCH) --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/tests \
		--out $(OUT) $(if $(EXTRA_TESTS),--extra $(EXTRA_TESTS)) $(if $(TESTS),--only "$(TESTS)") \
		--ivshmem $(IVSHMEM_SIZE) --ivshmem2 $(IVSHMEM2_SIZE) \
		$(if $(PCI_PASS_TESTS),--pci-pass "$(PCI_PASS_TESTS) $(MULTI_PASS_TESTS)") $(CHECK_JUDGE)

# The judge must fail every broken run of its self-test.
judge-test:
	@python3 qemu/test_results.py

# The demo guest's /tests holds only the demo, which its /init runs.
# SCREEN=1: the guest has QEMU's standard VGA too, and the demo ends with
# screen_test (tests/screen/), whose screenshots the host keeps in
# $(OUT)/screen, as PPM and PNG.
demo: module tool $(DEMO_BINS) $(if $(SCREEN),$(SCREEN_BINS))
	@rm -f $(OUT)/demo/screen_test
	@$(if $(SCREEN),install -m 0755 $(OUT)/screen/screen_test $(OUT)/demo/screen_test)
	@qemu/run.sh demo $(RUN_ARCH) --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/demo --out $(OUT) \
		$(if $(SCREEN),--screen)
	@$(if $(SCREEN),for f in $(OUT)/screen/*.ppm; do scripts/ppm2png.py "$$f" "$${f%.ppm}.png"; done)

# The README's pictures: three shots of the screen after switches, from a
# demo run with SCREEN=1.
README_SHOTS := switch-1 switch-2 switch-0
.PHONY: screenshots
screenshots:
	@$(MAKE) demo SCREEN=1
	@mkdir -p Documentation/images
	@for n in $(README_SHOTS); do \
		f=$$(ls $(OUT)/screen/*-$$n.png) && cp "$$f" Documentation/images/screen-$$n.png; \
	done

shell: module tests
	@qemu/run.sh shell $(RUN_ARCH) --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/tests --out $(OUT)

# Virtual terminals you can see: a guest of its own with QEMU's standard
# VGA, whose video memory vdmux multiplexes; the host takes a screenshot at
# each checkpoint the guest asks for and compares it with the picture that
# must be in front (qemu/screen.py). The shots stay in $(OUT)/screen-run/screen.
$(OUT)/screen/%: tests/screen/%.c tests/vdmux_test.h include/uapi/vdmux.h | kernel
	@mkdir -p $(dir $@)
	@$(TEST_CC) $(TEST_CFLAGS) -I$(KSRC)/tools/testing/selftests -o $@ $< -lpthread

# bind_test runs here, in a guest of its own with the VGA and the ivshmem
# device (the screen's has no ivshmem: vdmux would take it first), not in
# make check's, which keeps one machine for every program. A third guest, VGA
# only, runs the pci pass (PCI_PASS_TESTS as NAME@pci) with the VGA's video
# memory as device memory: the functional tests on a display device's BAR.
check-screen: module tests $(SCREEN_BINS)
	@qemu/run.sh check --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/screen \
		--out $(OUT)/screen-run --screen --only screen_test
	@qemu/run.sh check --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/screen \
		--out $(OUT)/bind-run --vga --ivshmem $(IVSHMEM_SIZE) --only bind_test
	@qemu/run.sh check --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/tests \
		--out $(OUT)/vga-run --vga --pci-pass "$(PCI_PASS_TESTS)" --pci-pass-device 1234:1111 \
		--only "$(patsubst %,%@pci,$(PCI_PASS_TESTS))"

# The largest size, in a guest with room for it: not part of `make check`
# (it copies GiBs under KASAN).
$(OUT)/large/%: tests/large/%.c tests/vdmux_test.h include/uapi/vdmux.h | kernel
	@mkdir -p $(dir $@)
	@$(TEST_CC) $(TEST_CFLAGS) -I$(KSRC)/tools/testing/selftests -o $@ $< -lpthread

check-large: module $(OUT)/large/large_test
	@QEMU_MEM=$${QEMU_MEM:-5G} QEMU_TIMEOUT=$${QEMU_TIMEOUT:-1800} qemu/run.sh check \
		--kernel $(KDIR) --module $(MODULE) --tests $(OUT)/large --out $(OUT)/large-run

# The racing programs for longer than make check gives them: stress and
# fuzz run SOAK_SECONDS each, cycle_test a load cycle per second of it, the
# race tests once. The judge is make check's.
SOAK_SECONDS ?= 600
SOAK_TESTS := stress_test fuzz_test cycle_test race_test huge_race_test teardown_test
soak: module tests
	@GUEST_ENV="$(GUEST_ENV) VDMUX_STRESS_SECONDS=$(SOAK_SECONDS) VDMUX_FUZZ_SECONDS=$(SOAK_SECONDS) \
		VDMUX_FUZZ_COUNT=100000000 VDMUX_CYCLE_ROUNDS=$(SOAK_SECONDS)" \
		QEMU_TIMEOUT=$${QEMU_TIMEOUT:-$$((4 * $(SOAK_SECONDS) + 1200))} \
		qemu/run.sh check --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/tests \
		--out $(OUT)/soak-run --only "$(SOAK_TESTS)"

# The test kernel booted with lockdown=integrity, as a distribution kernel
# is under Secure Boot, with the ivshmem device: lockdown_test checks what
# lockdown refuses (/dev/mem, the BAR's sysfs resource files) and that
# vdmux's nodes work in both device_memory modes, and LOCKDOWN_TESTS run
# there too (and in the pci pass). Not part of `make check`: one more boot.
LOCKDOWN_TESTS ?= ioctl_test mmap_test
$(OUT)/lockdown/%: tests/lockdown/%.c tests/vdmux_test.h include/uapi/vdmux.h | kernel
	@mkdir -p $(dir $@)
	@$(TEST_CC) $(TEST_CFLAGS) -I$(KSRC)/tools/testing/selftests -o $@ $< -lpthread

check-lockdown: module tool $(OUT)/lockdown/lockdown_test $(patsubst %,$(OUT)/tests/%,$(LOCKDOWN_TESTS))
	@rm -rf $(OUT)/lockdown-run/tests && mkdir -p $(OUT)/lockdown-run/tests && \
		cp $(OUT)/lockdown/lockdown_test $(patsubst %,$(OUT)/tests/%,$(LOCKDOWN_TESTS)) \
			$(OUT)/lockdown-run/tests/
	@qemu/run.sh check --kernel $(KDIR) --module $(MODULE) --tests $(OUT)/lockdown-run/tests \
		--out $(OUT)/lockdown-run --lockdown integrity --allow-skips qemu/skips-lockdown \
		--ivshmem $(IVSHMEM_SIZE) --pci-pass "$(LOCKDOWN_TESTS)"

# Benchmarks run on the release kernel: `make bench` is `make bench-run`
# with FLAVOUR=release. BOOTS guests (5 by default) run them one after the
# other, under TCG unless ACCEL=kvm (printed when used); the median across the
# boots judges bench/targets, and every run is appended to bench/runs.log.
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(wildcard tests/bench/*.c))

$(OUT)/bench/%: tests/bench/%.c tests/vdmux_test.h include/uapi/vdmux.h | kernel
	@mkdir -p $(dir $@)
	@$(TEST_CC) $(TEST_CFLAGS) -o $@ $< -lpthread

bench:
	@$(MAKE) FLAVOUR=release bench-run

# The bench guest has the ivshmem device too: the bar section compares its
# BAR as the device memory (device_memory=pci) with RAM (IVSHMEM_SIZE= boots
# without it, and the section is n/a).
bench-run: module $(BENCH_BINS)
	@BENCH_DIR=$(OUT)/bench qemu/run.sh bench --kernel $(KDIR) --module $(MODULE) \
		--tests $(OUT)/no-tests --out $(OUT) $(if $(IVSHMEM_SIZE),--ivshmem $(IVSHMEM_SIZE))

# The module goes where the kernel in KDIR looks for it (depmod included):
# for the running kernel, KDIR=/lib/modules/$$(uname -r)/build. Debian's
# linux-headers lack the Rust build files: for them the module is the one
# scripts/debian-kernel.sh builds with Debian's toolchain.
DEBIAN_HEADERS = $(if $(wildcard $(KDIR)/rust/libmacros.so),,$(if $(wildcard $(KDIR)/include/config/kernel.release),$(shell grep -qs deb $(KDIR)/include/config/kernel.release && echo 1)))
MANDIR ?= /usr/share/man
BASHCOMPDIR ?= /usr/share/bash-completion/completions
ZSHCOMPDIR ?= /usr/share/zsh/vendor-completions
FISHCOMPDIR ?= /usr/share/fish/vendor_completions.d
SHARE := $(OUT)/share

ifeq ($(DEBIAN_HEADERS),1)
install: tool install-files
	@set -e; release=$$(cat $(KDIR)/include/config/kernel.release); \
	DEBIAN_KERNEL=$$release scripts/debian-kernel.sh module; \
	ko=$$(DEBIAN_KERNEL=$$release scripts/debian-kernel.sh print-dir)/vdmux.ko; \
	dir="$(INSTALL_MOD_PATH)/lib/modules/$$release/$(INSTALL_MOD_DIR)"; \
	echo "install $$ko $$dir/vdmux.ko"; install -D -m 0644 "$$ko" "$$dir/vdmux.ko"; \
	if [ -z "$(INSTALL_MOD_PATH)" ] || [ -d "$(INSTALL_MOD_PATH)/lib/modules/$$release/kernel" ]; then \
		depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) "$$release"; fi
else
install: module tool install-files
	@$(KMAKE) modules_install INSTALL_MOD_DIR=$(INSTALL_MOD_DIR)
endif

.PHONY: install-files
install-files: tool
	@$(VDMUXCTL) generate $(SHARE)
	install -D -m 0644 include/uapi/vdmux.h $(DESTDIR)$(INCLUDEDIR)/linux/vdmux.h
	install -D -m 0755 $(VDMUXCTL) $(DESTDIR)$(BINDIR)/vdmuxctl
	install -D -m 0644 scripts/60-vdmux.rules $(DESTDIR)$(UDEVRULESDIR)/60-vdmux.rules
	install -D -m 0644 scripts/vdmux.sysusers $(DESTDIR)$(SYSUSERSDIR)/vdmux.conf
	install -D -m 0644 tools/man/vdmux.4 $(DESTDIR)$(MANDIR)/man4/vdmux.4
	install -D -m 0644 tools/man/vdmuxctl.8 $(DESTDIR)$(MANDIR)/man8/vdmuxctl.8
	install -D -m 0644 $(SHARE)/vdmuxctl.bash $(DESTDIR)$(BASHCOMPDIR)/vdmuxctl
	install -D -m 0644 $(SHARE)/_vdmuxctl $(DESTDIR)$(ZSHCOMPDIR)/_vdmuxctl
	install -D -m 0644 $(SHARE)/vdmuxctl.fish $(DESTDIR)$(FISHCOMPDIR)/vdmuxctl.fish

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
		$(DESTDIR)$(UDEVRULESDIR)/60-vdmux.rules $(DESTDIR)$(SYSUSERSDIR)/vdmux.conf \
		$(DESTDIR)$(MANDIR)/man4/vdmux.4 $(DESTDIR)$(MANDIR)/man8/vdmuxctl.8 \
		$(DESTDIR)$(BASHCOMPDIR)/vdmuxctl $(DESTDIR)$(ZSHCOMPDIR)/_vdmuxctl \
		$(DESTDIR)$(FISHCOMPDIR)/vdmuxctl.fish

# --- Debian's stock kernel and DKMS ---------------------------------------
# The functional tests: those that need no debug-kernel feature, with the
# same 32-bit programs and the same BAR checks (pci_test, multi_test on two
# ivshmem devices, and the pci pass of PCI_PASS_TESTS) as make check.
DEBIAN_TESTS ?= module_test ioctl_test mmap_test huge_test security_test events_test race_test \
	autogrow_test populate_test ctxmgt_test pci_test multi_test $(patsubst %,%-m32,$(TESTS_M32)) \
	vdmuxctl_test.sh vdmuxctl_events_test.sh vdmux_crate_test.sh vdmuxctl_device_test.sh
# KVER picks Debian's kernel (scripts/debian-kernel.sh's DEBIAN_KERNEL):
# make check-debian KVER=7.2.12+deb13-amd64.
ifdef KVER
export DEBIAN_KERNEL := $(KVER)
endif
DEBIAN_OUT = $(shell scripts/debian-kernel.sh print-dir)
# The module check-debian boots Debian's kernel with; check-deb gives dkms's.
DEBIAN_KO ?= $(DEBIAN_OUT)/vdmux.ko

debian:
	@scripts/debian-kernel.sh module

# The host's set-up (QEMU, busybox, gcc-multilib, the Rust toolchain for
# vdmuxctl), the module, Debian's image, then dkms in the build root
# against the prepared tree (scripts/check-dkms.sh, as make check-dkms
# runs it), then the guest.
check-debian: setup
	@scripts/debian-kernel.sh all
	@scripts/debian-kernel.sh dkms
	@$(MAKE) FLAVOUR=debian KDIR=$$(scripts/debian-kernel.sh print-tree) KERNEL_PREREQ= debian-run

debian-run: $(patsubst %,$(OUT)/tests/%,$(DEBIAN_TESTS)) $(patsubst tests/%,$(OUT)/tests/%,$(TEST_LIBS)) tool \
	$(VDMUX_BIN)/demo_term $(VDMUX_BIN)/vdmux-status
	@rm -rf $(OUT)/debian-tests && mkdir -p $(OUT)/debian-tests && \
		cp $(patsubst %,$(OUT)/tests/%,$(DEBIAN_TESTS)) $(patsubst tests/%,$(OUT)/tests/%,$(TEST_LIBS)) \
			$(OUT)/debian-tests/
	@qemu/run.sh check --kernel $(KDIR) --bzimage $(DEBIAN_OUT)/vmlinuz \
		--module $(DEBIAN_KO) --tests $(OUT)/debian-tests --out $(OUT)/$(notdir $(DEBIAN_OUT)) \
		--stock-kernel --ivshmem $(IVSHMEM_SIZE) --ivshmem2 $(IVSHMEM2_SIZE) \
		$(if $(PCI_PASS_TESTS),--pci-pass "$(PCI_PASS_TESTS) $(MULTI_PASS_TESTS)")

# The Debian packages, with Debian's tools in a trixie root (scripts/debian-pkg.sh).
deb:
	@scripts/debian-pkg.sh $(TOP)/build/deb

# The packages installed in a trixie system image with Debian's 7.3 headers,
# the module dkms built there booted with Debian's own kernel under the
# functional tests (as check-debian), then both packages purged: no file
# left (scripts/check-deb.sh). The purge runs whatever the tests said.
CHECK_DEB := $(TOP)/build/check-deb
check-deb: deb
	@scripts/debian-kernel.sh image
	@scripts/check-deb.sh install $(TOP)/build/deb $(CHECK_DEB)
	@$(MAKE) FLAVOUR=debian KDIR=$$(cat $(CHECK_DEB)/tree) KERNEL_PREREQ= DEBIAN_KO=$(CHECK_DEB)/vdmux.ko \
		debian-run; rc=$$?; scripts/check-deb.sh purge $(CHECK_DEB) && exit $$rc

# What dkms.conf runs: the module against KDIR, nothing set up, nothing
# downloaded. C is compiled as the kernel was (clang or gcc). dkms passes
# CC=clang LD=ld.lld for a clang-built kernel, which would beat LLVM=-19:
# the versioned names are given explicitly.
KBUILD_LLVM = $(if $(shell grep -s '^CONFIG_CC_IS_CLANG=y' $(KDIR)/.config),LLVM=$(LLVM) \
	CC=clang$(filter-out 1,$(LLVM)) LD=ld.lld$(filter-out 1,$(LLVM)))
# For a Debian kernel, whose headers lack the Rust build files,
# scripts/dkms-debian-tree.sh prepares them once from its linux-source.
kbuild: $(GENERATED_RS)
	@tree=$$(scripts/dkms-debian-tree.sh $(KDIR) $(KERNELRELEASE)) && scripts/dkms-check.sh $$tree && \
		$(MAKE) -C $$tree M=$(TOP) $(KBUILD_LLVM) $(if $(KERNELRELEASE),KERNELRELEASE=$(KERNELRELEASE)) modules

# The module dkms built and installed is then loaded in the test guest.
check-dkms: kernel $(OUT)/tests/module_test
	@mkdir -p $(OUT)/dkms/tests && cp $(OUT)/tests/module_test $(OUT)/dkms/tests/
	@CHECK_DKMS_KO=$(OUT)/dkms/vdmux.ko scripts/check-dkms.sh $(KDIR)
	@qemu/run.sh check --kernel $(KDIR) --module $(OUT)/dkms/vdmux.ko --tests $(OUT)/dkms/tests \
		--out $(OUT)/dkms

clean:
	rm -rf build $(GENERATED_RS)

# --- Outside clients --------------------------------------------------------
# fio, stress-ng and trinity, built statically from Debian's source packages
# (scripts/build-clients.sh, cached in ~/.cache/vdmux/clients), run in the
# guest by the TAP wrappers of tests/clients/ beside a churn loop and the
# faulting companion; their /usr/bin is a directory of its own, so that the
# tools stay out of make check's guest.
CLIENTS := $(OUT)/clients
CLIENT_WRAPPERS := $(filter-out tests/clients/clients-lib.sh,$(wildcard tests/clients/*.sh))

$(CLIENTS)/bin/vdmux_faulter: tests/clients/vdmux_faulter.c include/uapi/vdmux.h
	@mkdir -p $(dir $@)
	@$(TEST_CC) $(TEST_CFLAGS) -o $@ $<

check-clients: module tool $(CLIENTS)/bin/vdmux_faulter
	@VDMUX_CACHE=$(CACHE) scripts/build-clients.sh $(CLIENTS)/bin
	@install -m 0755 $(VDMUXCTL) tests/clients/clients-lib.sh $(CLIENTS)/bin/
	@rm -rf $(CLIENTS)/tests && mkdir -p $(CLIENTS)/tests && \
		install -m 0755 $(CLIENT_WRAPPERS) $(CLIENTS)/tests/
	@VDMUX_BIN=$(CLIENTS)/bin qemu/run.sh check --kernel $(KDIR) --module $(MODULE) \
		--tests $(CLIENTS)/tests --out $(CLIENTS) $(if $(TESTS),--only "$(TESTS)")
