#!/usr/bin/env bash
# Provisions a Debian sid chroot holding the matrix-synapse package, for the tests and the demo.
#
# Idempotent and cached: a finished chroot carries a marker file and is reused as is. The chroot is
# built under "<dir>.partial" and renamed into place only when complete, so an interrupted run never
# leaves a half-built chroot that looks ready. Concurrent runs serialise on a lock file.
#
#   SYNAPSE_CHROOT_DIR  where the chroot lives (default: $XDG_CACHE_HOME or ~/.cache, then
#                       matrix-graphql/synapse-sid)
set -euo pipefail

dir="${SYNAPSE_CHROOT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/matrix-graphql/synapse-sid}"
marker="$dir/.provisioned"

say() { printf '[provision-synapse] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Runs a named step with its output in the log file, and prints how long it took. On failure the
# end of the log is shown, since the step's own output is what explains it.
step() {
  local name=$1 started=$SECONDS
  shift
  say "$name ..."
  if ! "$@" >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "$name failed after $((SECONDS - started)) s (full log: $log)"
  fi
  say "$name done in $((SECONDS - started)) s"
}

if [[ -f $marker ]]; then
  say "chroot ready at $dir (matrix-synapse $(<"$marker"))"
  exit 0
fi

[[ $EUID -eq 0 ]] || die "building the chroot needs root (debootstrap, chroot, mount). Run as root, or point the tests at an existing homeserver with MATRIX_HOMESERVER_URL and MATRIX_REGISTRATION_SHARED_SECRET."
# `npm run demo` and `npm test` install debootstrap before calling this
# (scripts/system-packages.ts); run on its own, the script says what to install.
command -v debootstrap >/dev/null || die "debootstrap is not installed: apt-get update && apt-get install -y debootstrap (npm run demo and npm test install it themselves)."
command -v unshare >/dev/null || die "unshare (util-linux) is not installed."

mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if [[ -f $marker ]]; then
  say "chroot ready at $dir (built by a concurrent run)"
  exit 0
fi

work="$dir.partial"
log="$dir.log"
: >"$log"
rm -rf --one-file-system "$work" "$dir"
total_started=$SECONDS

# A private mount namespace: whatever debootstrap or apt mounts inside the chroot (/proc) vanishes
# with the namespace, even when a step fails half-way.
step "debootstrap --variant=minbase sid" unshare -m debootstrap --variant=minbase sid "$work"

# The mirror can serve sid snapshots whose Release file is past its Valid-Until date.
echo 'Acquire::Check-Valid-Until "false";' >"$work/etc/apt/apt.conf.d/99no-check-valid-until"
# Keep the package's maintainer scripts from trying to start a service inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$work/usr/sbin/policy-rc.d"
chmod +x "$work/usr/sbin/policy-rc.d"
# Preseed debconf so the install asks nothing.
preseed() {
  chroot "$work" debconf-set-selections <<'SEL'
matrix-synapse matrix-synapse/server-name string localhost
matrix-synapse matrix-synapse/report-stats boolean false
SEL
}
step "preseed debconf" preseed

install_synapse() {
  unshare -m sh -ec '
    mount -t proc proc "$1/proc"
    exec chroot "$1" sh -ec "
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends matrix-synapse
      apt-get clean
    "' sh "$work"
}
step "apt-get install matrix-synapse (in the chroot)" install_synapse

# Mount point for each instance's data directory (bound in a private namespace at start).
mkdir -p "$work/data"
version=$(chroot "$work" dpkg-query -W -f='${Version}' matrix-synapse)
echo "$version" >"$work/.provisioned"
mv "$work" "$dir"
say "chroot ready at $dir (matrix-synapse $version) in $((SECONDS - total_started)) s"
