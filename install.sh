#!/usr/bin/env bash
# Install guard as a login shell.
#
#   ./install.sh [--prefix DIR] [--root DIR] [--user NAME [--create-user]] [--binary PATH]
#   ./install.sh --uninstall [--prefix DIR] [--root DIR] [--user NAME]
#
# Installs the release binary to PREFIX/bin/guard (default /usr/local),
# adds it to /etc/shells once, and creates a root-owned /etc/guard/ with
# config.yaml and rules.d/ that the agent cannot write. With --user, sets
# that user's login shell (creating the user with --create-user). Running it
# again changes nothing; --uninstall reverses it (the user's shell goes back
# to /bin/bash; /etc/guard is kept, since it is policy someone wrote).
# --root DIR puts the system files (etc/shells, etc/guard, var/cache/guard,
# etc/systemd/system/guard-reap@.*) under DIR instead of /, for staging and
# tests. With systemd running and --user, the user's reap timer is enabled.
set -euo pipefail

prefix=/usr/local
user=""
create_user=0
uninstall=0
binary=""
sysroot=/

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --user) user=${2:?--user needs a name}; shift 2 ;;
    --user=*) user=${1#*=}; shift ;;
    --create-user) create_user=1; shift ;;
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --root) sysroot=${2:?--root needs a directory}; shift 2 ;;
    --root=*) sysroot=${1#*=}; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

sysroot=${sysroot%/}
shells="$sysroot/etc/shells"
etc="$sysroot/etc/guard"
cache="$sysroot/var/cache/guard"

root=0
[ "$(id -u)" -eq 0 ] && root=1
# Without root only a prefix the caller owns makes sense, and then nothing
# system-wide (/etc/shells, /etc/guard, users) is touched.
system=$root
if [ $root -eq 0 ]; then
  [ "$prefix" = /usr/local ] && die "run as root, or give --prefix pointing at a directory you own"
  mkdir -p "$prefix" 2>/dev/null || die "cannot create $prefix"
  [ -w "$prefix" ] || die "$prefix is not writable; run as root"
  [ -n "$user" ] && die "--user needs root"
fi
dest="$prefix/bin/guard"

if [ $uninstall -eq 1 ]; then
  if [ -n "$user" ] && id "$user" >/dev/null 2>&1; then
    if [ "$(getent passwd "$user" | cut -d: -f7)" = "$dest" ]; then
      usermod -s /bin/bash "$user"
      echo "install.sh: $user's shell is /bin/bash again"
    fi
  fi
  if [ $system -eq 1 ] && [ -f "$shells" ] && grep -qxF "$dest" "$shells"; then
    grep -vxF "$dest" "$shells" > "$shells.guard-tmp" || true
    cat "$shells.guard-tmp" > "$shells" && rm -f "$shells.guard-tmp"
    echo "install.sh: removed $dest from $shells"
  fi
  rm -f "$dest"
  echo "install.sh: removed $dest"
  exit 0
fi

if [ -z "$binary" ]; then
  here=$(cd "$(dirname "$0")" && pwd)
  binary="$here/target/release/guard"
  if [ ! -x "$binary" ]; then
    command -v cargo >/dev/null || die "no built binary at $binary and no cargo to build it"
    (cd "$here" && cargo build --release --locked)
  fi
fi
[ -x "$binary" ] || die "not an executable: $binary"

install -d -m 0755 "$prefix/bin"
install -m 0755 "$binary" "$dest.new"
mv -f "$dest.new" "$dest"
echo "install.sh: installed $dest"

if [ $system -eq 1 ]; then
  install -d -m 0755 "$(dirname "$shells")"
  touch "$shells"
  grep -qxF "$dest" "$shells" || { echo "$dest" >> "$shells"; echo "install.sh: added $dest to $shells"; }

  install -d -o root -g root -m 0755 "$etc" "$etc/rules.d"
  if [ ! -e "$etc/config.yaml" ]; then
    cat > "$etc/config.yaml" <<'YAML'
# guard configuration. Root-owned: the agent must not be able to change it.
# The shipped rule packs are built in; add your own in rules.d/*.yaml.
shell: /bin/bash
default: allow      # commands no rule matches
dynamic: review     # commands only known at run time ($cmd, eval "$x", … | sh)
YAML
    chown root:root "$etc/config.yaml"
    chmod 0644 "$etc/config.yaml"
    echo "install.sh: wrote $etc/config.yaml"
  fi
  # Check the configuration; as root with the real /etc this also caches
  # it compiled in /var/cache/guard, so each start is fast.
  if [ "$sysroot" = "" ]; then
    "$dest" rules lint >/dev/null || die "the configuration in $etc does not load; see: $dest rules lint"
  else
    GUARD_CONFIG="$etc/config.yaml" "$dest" rules lint >/dev/null || die "$etc/config.yaml does not load"
    install -d -m 0755 "$cache"
  fi

  # A timer that reaps sessions of crashed agents (revoking their
  # credentials) even when nothing runs guard again.
  units="$sysroot/etc/systemd/system"
  here=$(cd "$(dirname "$0")" && pwd)
  if [ -d "$here/contrib/systemd" ]; then
    install -d -m 0755 "$units"
    for unit in guard-reap@.service guard-reap@.timer; do
      sed "s|@GUARD@|$dest|g" "$here/contrib/systemd/$unit" > "$units/$unit.new"
      chmod 0644 "$units/$unit.new"
      mv -f "$units/$unit.new" "$units/$unit"
    done
    echo "install.sh: installed $units/guard-reap@.{service,timer}"
  fi

  if [ -n "$user" ]; then
    if ! id "$user" >/dev/null 2>&1; then
      [ $create_user -eq 1 ] || die "no user $user (add --create-user)"
      useradd -m -s "$dest" "$user"
      echo "install.sh: created user $user"
    fi
    if [ "$(getent passwd "$user" | cut -d: -f7)" != "$dest" ]; then
      usermod -s "$dest" "$user"
      echo "install.sh: $user's login shell is now $dest"
    fi
    if [ "$sysroot" = "" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
      systemctl daemon-reload && systemctl enable --now "guard-reap@$user.timer" >/dev/null \
        && echo "install.sh: enabled guard-reap@$user.timer"
    fi
  fi
fi
