# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the set-up scripts: mirror_uri prints the URI of the Debian
# mirror the host's apt already uses (the first bookworm or trixie source),
# so that the suites and source packages vdmux needs come from the same
# place and no host name is written into the repository. DEBIAN_MIRROR
# overrides it.
mirror_uri() {
	local f uri
	[ -n "${DEBIAN_MIRROR:-}" ] && { echo "$DEBIAN_MIRROR"; return; }
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822: the first stanza whose Suites name bookworm or trixie.
		uri=$(awk '
			/^[[:space:]]*$/ { if (u && s) { print u; exit } u = ""; s = 0; next }
			/^URIs:/ { u = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i ~ /^(bookworm|trixie)$/) s = 1 }
			END { if (u && s) print u }' "$f" | head -n1)
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk '$1 == "deb" && $0 ~ / (bookworm|trixie) / {
			for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { print $i; exit } }' "$f" | head -n1)
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
}
