#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-deb: the packages of make deb installed as a user would, on a
# Debian 13 system image, then purged.
#
#   check-deb.sh install DEBDIR OUT   the system image ($CACHE/debian-sys-root:
#                                     debootstrap --variant=minbase trixie, with
#                                     linux-headers-RELEASE and linux-source-SERIES
#                                     from trixie-backports), a list of its files,
#                                     'apt-get install ./vdmux-dkms_*.deb
#                                     ./vdmuxctl_*.deb', 'dkms install -k RELEASE'
#                                     (which prepares the kernel's Rust build
#                                     files from linux-source), what the packages
#                                     put where; OUT gets the module dkms built
#                                     (vdmux.ko) and the path of the kernel tree
#                                     the tests build against (tree)
#   check-deb.sh image                the system image alone
#   check-deb.sh verify OUT           the checks after the dkms build (install
#                                     ends with them)
#   check-deb.sh purge OUT            'apt-get purge' of both, 'apt-get autoremove
#                                     --purge' of what they pulled in: no file may
#                                     be left that was not there before
#
# Environment: DEBIAN_KERNEL (default 7.3.4+deb13-amd64), VDMUX_CACHE,
# DEBIAN_MIRROR.
set -euo pipefail

RELEASE=${DEBIAN_KERNEL:-7.3.4+deb13-amd64}
SERIES=$(echo "$RELEASE" | cut -d. -f1-2)
TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${VDMUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdmux}
ROOT=$CACHE/debian-sys-root
say() { printf 'check-deb: %s\n' "$*" >&2; }
die() {
	printf 'check-deb: error: %s\n' "$1" >&2
	shift
	for l in "$@"; do printf '  %s\n' "$l" >&2; done
	exit 1
}
[ "$(id -u)" = 0 ] || die "run as root: the system image needs debootstrap and chroot"
. "$TOP/scripts/trixie-root.sh"

run() { trixie_run "$ROOT" "$@"; }

# Every file of the image, but what apt, dpkg and logs churn through.
files() {
	(cd "$ROOT" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp -o \
		-path ./run -o -path ./var/cache -o -path ./var/lib/apt -o -path ./var/lib/dpkg -o \
		-path ./var/log -o -path ./root/debs -o -path ./.vdmux-\* \) -prune -o -print | sort)
}

image() {
	trixie_root "$ROOT" "$CACHE/debian-sys-debootstrap.log" \
		"deb trixie" "deb trixie-updates" "deb trixie-backports"
	# The headers bring backports' libelf1t64, which trixie's libelf-dev
	# (a dependency of vdmux-dkms) cannot go with: a user of a backports
	# kernel has backports' libelf-dev too.
	local want="$RELEASE libelf-dev"
	if [ "$(cat "$ROOT/.vdmux-kernel" 2>/dev/null)" != "$want" ]; then
		say "installing linux-headers-$RELEASE, linux-source-$SERIES and libelf-dev in the image (once)"
		run apt-get update -qq || die "apt-get update failed in the image"
		run apt-get install -y -qq --no-install-recommends -t trixie-backports \
			"linux-headers-$RELEASE" "linux-source-$SERIES" libelf-dev >/dev/null ||
			die "linux-headers-$RELEASE or linux-source-$SERIES could not be installed"
		echo "$want" >"$ROOT/.vdmux-kernel"
	fi
}

step_install() {
	local debs=$1 out=$2 log
	mkdir -p "$out"
	log=$out/install.log
	: >"$log"
	image
	# What an interrupted run left installed goes first.
	if run dpkg-query -W vdmux-dkms vdmuxctl >/dev/null 2>&1; then
		say "purging the packages an earlier run left installed"
		run apt-get purge -y vdmux-dkms vdmuxctl >>"$log" 2>&1 || true
		run apt-get autoremove --purge -y >>"$log" 2>&1 || true
	fi
	files >"$out/files-before"
	run dpkg-query -W -f '${Package}\n' | sort >"$out/packages-before"
	rm -rf "$ROOT/root/debs"
	mkdir -p "$ROOT/root/debs"
	cp "$debs"/vdmux-dkms_*_all.deb "$debs"/vdmuxctl_*_amd64.deb "$ROOT/root/debs/" ||
		die "no packages in $debs: run make deb"
	say "apt-get install ./vdmux-dkms_*.deb ./vdmuxctl_*.deb"
	run sh -c 'cd /root/debs && apt-get install -y --no-install-recommends ./*.deb' >>"$log" 2>&1 ||
		die "apt-get install failed; the log is $log" "$(tail -n 5 "$log")"
	local version
	version=$(run dpkg-query -W -f '${Version}' vdmux-dkms)
	# The package's postinst builds for the kernels dkms picks (with
	# headers); the image's kernel is not running here, so ask for it.
	say "dkms install vdmux/$version -k $RELEASE (the first time, it prepares the kernel's Rust build files: minutes)"
	run dkms status vdmux -k "$RELEASE" | grep -q ": installed" ||
		run dkms install "vdmux/$version" -k "$RELEASE" >>"$log" 2>&1 ||
		die "dkms install failed; the log is $log" "$(tail -n 12 "$log")" \
			"$(tail -n 12 "$ROOT/var/lib/dkms/vdmux/$version/build/make.log" 2>/dev/null)"
	step_verify "$out"
	say "installed: vdmux-dkms and vdmuxctl $version, dkms built vdmux.ko for $RELEASE"
}

# What dkms and the packages put in place, as a user finds it.
step_verify() {
	local out=$1 log=$1/install.log version
	version=$(run dpkg-query -W -f '${Version}' vdmux-dkms)
	run dkms status vdmux | tee -a "$log" | grep -q "^vdmux/$version, $RELEASE, x86_64: installed" ||
		die "dkms status does not say installed for $RELEASE" "$(run dkms status vdmux)"
	local ko
	ko=$(ls "$ROOT/lib/modules/$RELEASE/updates/dkms/"vdmux.ko* 2>/dev/null | head -n1)
	[ -n "$ko" ] || die "dkms installed no vdmux.ko under /lib/modules/$RELEASE/updates/dkms"
	case "$ko" in
	*.xz) xz -dc "$ko" >"$out/vdmux.ko" ;;
	*.zst) zstd -qdc "$ko" >"$out/vdmux.ko" ;;
	*.gz) gzip -dc "$ko" >"$out/vdmux.ko" ;;
	*) cp "$ko" "$out/vdmux.ko" ;;
	esac
	local vermagic
	vermagic=$(run modinfo -F vermagic "${ko#"$ROOT"}")
	case "$vermagic" in
	"$RELEASE "*) say "${ko#"$ROOT"}: vermagic $vermagic" ;;
	*) die "the module dkms built has vermagic '$vermagic', not $RELEASE" ;;
	esac
	local f
	for f in /usr/include/linux/vdmux.h /usr/lib/udev/rules.d/60-vdmux.rules \
		/usr/lib/sysusers.d/vdmux.conf /usr/bin/vdmuxctl /usr/share/man/man4/vdmux.4.gz \
		/usr/share/man/man8/vdmuxctl.8.gz /usr/share/bash-completion/completions/vdmuxctl \
		/usr/share/zsh/vendor-completions/_vdmuxctl /usr/share/fish/vendor_completions.d/vdmuxctl.fish; do
		[ -f "$ROOT$f" ] || die "the packages installed no $f"
	done
	run getent group vdmux >/dev/null || die "systemd-sysusers made no group vdmux"
	run vdmuxctl --version | grep -q "^vdmuxctl $version$" || die "vdmuxctl --version is not $version"
	echo "$ROOT/var/lib/vdmux-dkms/$RELEASE/linux" >"$out/tree"
}

step_purge() {
	local out=$1 log=$1/purge.log
	say "apt-get purge vdmux-dkms vdmuxctl, apt-get autoremove --purge"
	run apt-get purge -y vdmux-dkms vdmuxctl >"$log" 2>&1 ||
		die "apt-get purge failed; the log is $log" "$(tail -n 5 "$log")"
	run apt-get autoremove --purge -y >>"$log" 2>&1 ||
		die "apt-get autoremove failed; the log is $log" "$(tail -n 5 "$log")"
	rm -rf "$ROOT/root/debs"
	files >"$out/files-after"
	run dpkg-query -W -f '${Package}\n' | sort >"$out/packages-after"
	# Nothing of vdmux or dkms may be left, neither a file nor a package.
	# apt does not autoremove what an installed package recommends
	# (linux-source recommends build-essential, bison, flex, libssl-dev...,
	# which dkms pulled in) nor a package of priority important (netbase):
	# those, and what they made, are listed, not counted.
	local left ours kept
	left=$(comm -13 "$out/files-before" "$out/files-after")
	ours=$(echo "$left" | grep -i -e vdmux -e dkms || true)
	[ -z "$ours" ] || die "purged, yet files of vdmux or dkms are left:" $ours
	kept=$(comm -13 "$out/packages-before" "$out/packages-after" | tr '\n' ' ')
	if echo "$kept" | grep -q -i -e vdmux -e dkms; then
		die "purged, yet packages are left installed: $kept"
	fi
	if [ -n "$left" ]; then
		echo "$left" >"$out/files-left"
		say "$(echo "$left" | wc -l) files left by packages apt keeps installed, listed in" \
			"$out/files-left: $kept"
	fi
	say "purged: no file of vdmux or dkms left"
}

case "${1:-}" in
image) image ;;
install) step_install "$2" "$3" ;;
verify) step_verify "$2" ;;
purge) step_purge "$2" ;;
*) die "usage: check-deb.sh install DEBDIR OUT | purge OUT" ;;
esac
