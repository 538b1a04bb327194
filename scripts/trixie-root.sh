# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the scripts that work in a Debian trixie root: the build root
# of Debian's kernels (debian-kernel.sh), the packages' build root
# (debian-pkg.sh) and the system image the packages are installed in
# (check-deb.sh). The caller defines say and die.

. "$(dirname "${BASH_SOURCE[0]}")/apt-mirror.sh"

# trixie_root ROOT LOG SOURCE...: makes ROOT a minimal trixie system
# (debootstrap --variant=minbase) from the mirror the host's apt uses, once;
# LOG keeps debootstrap's output. Each SOURCE ("deb trixie-backports",
# "deb-src trixie") becomes a line of its sources.list, on the same mirror.
trixie_root() {
	local root=$1 log=$2 uri source
	shift 2
	[ -f "$root/.vdmux-debootstrap" ] && return
	if ! command -v debootstrap >/dev/null; then
		say "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			debootstrap >/dev/null || die "debootstrap could not be installed" "apt-get install debootstrap"
	fi
	uri=$(mirror_uri)
	[ -n "$uri" ] || die "no Debian mirror found in /etc/apt" "set DEBIAN_MIRROR=http://.../debian"
	say "debootstrap --variant=minbase trixie from $uri into $root (about 3 minutes, once)"
	rm -rf "$root"
	mkdir -p "$(dirname "$log")"
	debootstrap --variant=minbase trixie "$root" "$uri" >"$log" 2>&1 ||
		die "debootstrap failed; its log is $log" "$(tail -n 3 "$log")"
	for source in "$@"; do
		echo "${source%% *} $uri ${source#* } main"
	done >"$root/etc/apt/sources.list"
	echo "$uri" >"$root/.vdmux-debootstrap"
}

# trixie_run ROOT COMMAND...: runs COMMAND in ROOT with a clean environment,
# in a private mount namespace: its /proc, /dev and /tmp are gone with it.
trixie_run() {
	unshare --mount --propagation private -- sh -c '
		root=$1; shift
		mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" &&
			mount -t tmpfs tmpfs "$root/tmp" || exit 1
		exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' sh "$@"
}
