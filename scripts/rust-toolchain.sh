# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the set-up and kernel scripts: RUSTUP_TOOLCHAIN is the channel
# pinned in rust-toolchain.toml (unless already set), so that every rustc,
# cargo, rustfmt and clippy they run is that one, wherever they run it from.
vdmux_rust_toolchain=$(sed -n 's/^channel *= *"\([^"]*\)".*/\1/p' \
	"$(dirname "${BASH_SOURCE[0]}")/../rust-toolchain.toml")
[ -n "$vdmux_rust_toolchain" ] || {
	echo "rust-toolchain.toml names no channel" >&2
	exit 1
}
export RUSTUP_TOOLCHAIN=${RUSTUP_TOOLCHAIN:-$vdmux_rust_toolchain}
