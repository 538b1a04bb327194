#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Idempotent set-up of everything vdmux needs on a Debian 12 host: toolchain,
# QEMU, busybox and the Rust-enabled kernel source. Each step is skipped when it
# is already satisfied, so a second run takes seconds.
#
# Environment:
#   KDIR    use this already-built Rust-enabled kernel tree; the packaged
#           kernel source is then not installed.
#   ARCH=arm64   also what make check ARCH=arm64 needs: qemu-system-arm,
#           Debian's arm64 libc for clang's cross builds, the Rust target
#           aarch64-unknown-linux-gnu and an arm64 busybox.
#   VDMUX_SKIP_SETUP=1   do nothing (for hosts set up by hand).
set -euo pipefail

[ "${VDMUX_SKIP_SETUP:-0}" = 1 ] && exit 0
. "$(dirname "$0")/rust-toolchain.sh"

KERNEL_SERIES=${KERNEL_SERIES:-7.3}
BINDGEN_VERSION=${BINDGEN_VERSION:-0.72.1}
LLVM_SUFFIX=${LLVM_SUFFIX:--19}
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm${LLVM_SUFFIX}/lib}

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || die "run as root or install sudo"
	SUDO=sudo
fi

# --- apt suites -------------------------------------------------------------
# qemu-system-x86 comes from bookworm-backports and the kernel source from
# trixie-backports. Both suites are added on the mirror the host already uses
# and pinned low, so they only serve what is asked for by name.
. "$(dirname "$0")/apt-mirror.sh"

SOURCES=/etc/apt/sources.list.d/vdmux-backports.sources
PREFS=/etc/apt/preferences.d/vdmux-backports
apt_updated=0
apt_update() {
	[ "$apt_updated" = 1 ] && return
	say "apt-get update"
	$SUDO apt-get update -qq || die "apt-get update failed"
	apt_updated=1
}

if [ ! -f "$SOURCES" ]; then
	uri=$(mirror_uri)
	[ -n "$uri" ] || die "no bookworm mirror found in /etc/apt; add one, or set KDIR and install qemu-system-x86 by hand"
	say "adding bookworm-backports and trixie-backports from $uri"
	$SUDO tee "$SOURCES" >/dev/null <<EOT
Types: deb
URIs: $uri
Suites: bookworm-backports trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
	$SUDO tee "$PREFS" >/dev/null <<EOT
Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100

Package: *
Pin: release n=trixie-backports
Pin-Priority: 50
EOT
	apt_update
fi

pkg_ok() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in clang-19 lld-19 llvm-19 libclang-19-dev busybox-static flex bison bc \
	libelf-dev libssl-dev openssl cpio gcc gcc-multilib make xz-utils python3; do
	pkg_ok "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt_update
	say "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# QEMU 10 from bookworm-backports: package $1 unless command $2 is there.
install_qemu() {
	command -v "$2" >/dev/null && return 0
	apt_update
	say "installing $1 from bookworm-backports"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		-t bookworm-backports "$1" >/dev/null ||
		die "$1 could not be installed from bookworm-backports"
}

install_qemu qemu-system-x86 qemu-system-x86_64

if [ -z "${KDIR:-}" ] && ! pkg_ok "linux-source-$KERNEL_SERIES"; then
	apt_update
	say "installing linux-source-$KERNEL_SERIES from trixie-backports"
	if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		-t trixie-backports "linux-source-$KERNEL_SERIES" >/dev/null; then
		die "linux-source-$KERNEL_SERIES is not available from trixie-backports.
  Point KDIR at another built Rust-enabled 7.x kernel tree instead, e.g.
    make check KDIR=/path/to/linux   (the tree must have CONFIG_RUST=y and a
  finished 'make modules', so that Module.symvers exists)."
	fi
fi

# arm64: Debian's aarch64 gcc conflicts with gcc-multilib (the -m32 builds
# of the tests), so the tests are built by clang-19 with Debian's arm64 libc
# and libgcc (the crt files of a static link).
if [ "${ARCH:-}" = arm64 ]; then
	missing=()
	for p in libc6-dev-arm64-cross libgcc-12-dev-arm64-cross file; do
		pkg_ok "$p" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		apt_update
		say "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
			"${missing[@]}" >/dev/null || die "installing ${missing[*]} failed"
	fi
	install_qemu qemu-system-arm qemu-system-aarch64
fi

# --- Rust -------------------------------------------------------------------
command -v rustup >/dev/null || die "rustup not found: install Rust with rustup first"
# The pinned toolchain (rust-toolchain.toml), with the components below.
if ! rustup toolchain list 2>/dev/null | grep -q "^$RUSTUP_TOOLCHAIN-"; then
	say "rustup toolchain install $RUSTUP_TOOLCHAIN"
	rustup toolchain install "$RUSTUP_TOOLCHAIN" --profile minimal \
		--component rust-src,rustfmt,clippy >/dev/null ||
		die "rustup toolchain install $RUSTUP_TOOLCHAIN failed"
fi
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	say "rustup component add rust-src"
	rustup component add rust-src >/dev/null
fi
for c in rustfmt clippy; do
	if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
		say "rustup component add $c"
		rustup component add "$c" >/dev/null
	fi
done

if [ "${ARCH:-}" = arm64 ] &&
	! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
	say "rustup target add aarch64-unknown-linux-gnu"
	rustup target add aarch64-unknown-linux-gnu >/dev/null ||
		die "rustup target add aarch64-unknown-linux-gnu failed"
fi
[ "${ARCH:-}" = arm64 ] && { "$(dirname "$0")/arm64-busybox.sh" >/dev/null || exit 1; }

if ! bindgen --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; then
	say "cargo install bindgen-cli $BINDGEN_VERSION (a few minutes, once)"
	cargo install -q bindgen-cli --locked --version "$BINDGEN_VERSION" ||
		die "cargo install bindgen-cli failed"
fi

# --- rustavailable ----------------------------------------------------------
# Run against the source tree so a toolchain mismatch is told up front.
src=${KDIR:-}
if [ -z "$src" ]; then
	src=$("$(dirname "$0")/build-kernel.sh" --print-src-dir 2>/dev/null || true)
fi
if [ -n "$src" ] && [ -d "$src" ]; then
	stamp="$src/.vdmux-rustavailable"
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(rustc --version) $(bindgen --version)" ]; then
		say "make LLVM=$LLVM_SUFFIX rustavailable"
		make -s -C "$src" LLVM="$LLVM_SUFFIX" rustavailable >&2 ||
			die "the Rust toolchain is not usable for $src (see above)"
		echo "$(rustc --version) $(bindgen --version)" >"$stamp"
	fi
fi
say "ok"
