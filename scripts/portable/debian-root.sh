#!/usr/bin/env bash
# Makes (once) a minimal Debian root with debootstrap: debian-root.sh DIR SUITE ARCH [PACKAGES,...]
# A foreign ARCH runs through qemu-user-static and binfmt_misc (registered here when missing), so
# this needs root, debootstrap and qemu-user-static. Re-running with an existing DIR does nothing.
set -euo pipefail
dir=$1 suite=$2 arch=$3 include=${4:-}
if [ -x "$dir/bin/sh" ] && [ -f "$dir/.dlf-root-ready" ]; then exit 0; fi
host_arch=$(dpkg --print-architecture)
args=(--variant=minbase --arch="$arch")
[ -n "$include" ] && args+=(--include="$include")
mirror=http://deb.debian.org/debian
if [ "$arch" != "$host_arch" ]; then
  [ -d /proc/sys/fs/binfmt_misc ] && [ -e /proc/sys/fs/binfmt_misc/register ] ||
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  qarch=$([ "$arch" = arm64 ] && echo aarch64 || echo "$arch")
  if [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$qarch" ]; then
    cat "/usr/lib/binfmt.d/qemu-$qarch.conf" >/proc/sys/fs/binfmt_misc/register
  fi
fi
debootstrap "${args[@]}" "$suite" "$dir" "$mirror"
touch "$dir/.dlf-root-ready"
