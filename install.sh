#!/usr/bin/env bash
# Install guard as a login shell.
#
#   ./install.sh [--prefix DIR] [--root DIR] [--user NAME [--create-user]] [--binary PATH]
#                [--front PATH] [--no-broker] [--broker-user NAME]
#   ./install.sh --uninstall [--prefix DIR] [--root DIR] [--user NAME]
#
# Installs the release build: the shell front (guard-shell, README "The
# shell front") as PREFIX/bin/guard (default /usr/local), and the full
# binary it hands all else to as PREFIX/libexec/guard/guard. --binary
# names the full binary; --front the front, by default guard-shell beside
# it. Adds PREFIX/bin/guard to /etc/shells once, and creates a root-owned /etc/guard/ with
# config.yaml and rules.d/ that the agent cannot write. With --user, sets
# that user's login shell (creating the user with --create-user). Running it
# again changes nothing; --uninstall reverses it (the user's shell goes back
# to /bin/bash; /etc/guard is kept, since it is policy someone wrote).
# As root it also sets up the broker, the reference monitor every guarded
# line is decided by: the system user `guard` (--broker-user), its private
# /var/lib/guard and /var/log/guard (0700), and a socket-activated systemd
# unit (guard-broker.socket/.service) holding only CAP_SYS_PTRACE and
# CAP_DAC_READ_SEARCH; a new
# config.yaml names its socket. --no-broker leaves guard in embedded mode,
# which is advisory. --root DIR puts the system files (etc/shells,
# etc/guard, var/cache/guard, var/lib/guard, var/log/guard,
# etc/systemd/system/guard-*) under DIR instead of /, for staging and
# tests. With systemd running, the broker's socket is enabled, and with
# --user the user's reap timer.
set -euo pipefail

prefix=/usr/local
user=""
create_user=0
uninstall=0
binary=""
front=""
sysroot=/
broker=1
broker_user=guard

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --user) user=${2:?--user needs a name}; shift 2 ;;
    --user=*) user=${1#*=}; shift ;;
    --create-user) create_user=1; shift ;;
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --front) front=${2:?--front needs a path}; shift 2 ;;
    --root) sysroot=${2:?--root needs a directory}; shift 2 ;;
    --root=*) sysroot=${1#*=}; shift ;;
    --uninstall) uninstall=1; shift ;;
    --no-broker) broker=0; shift ;;
    --broker-user) broker_user=${2:?--broker-user needs a name}; shift 2 ;;
    --broker-user=*) broker_user=${1#*=}; shift ;;
    -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

sysroot=${sysroot%/}
shells="$sysroot/etc/shells"
etc="$sysroot/etc/guard"
cache="$sysroot/var/cache/guard"
lib="$sysroot/var/lib/guard"
logs="$sysroot/var/log/guard"
units="$sysroot/etc/systemd/system"
systemd_running=0
[ "$sysroot" = "" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null && systemd_running=1

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
full="$prefix/libexec/guard/guard"

if [ $uninstall -eq 1 ]; then
  if [ -n "$user" ] && id "$user" >/dev/null 2>&1; then
    if [ "$(getent passwd "$user" | cut -d: -f7)" = "$dest" ]; then
      usermod -s /bin/bash "$user"
      echo "install.sh: $user's shell is /bin/bash again"
    fi
  fi
  if [ $system -eq 1 ]; then
    if [ $systemd_running -eq 1 ]; then
      systemctl disable --now guard-broker.socket guard-broker.service >/dev/null 2>&1 || true
    fi
    for unit in guard-broker.socket guard-broker.service; do
      if [ -f "$units/$unit" ]; then
        rm -f "$units/$unit"
        echo "install.sh: removed $units/$unit"
      fi
    done
    [ -d "$lib" ] && echo "install.sh: kept $lib and $logs (sessions and the audit log are evidence)"
  fi
  if [ $system -eq 1 ] && [ -f "$shells" ] && grep -qxF "$dest" "$shells"; then
    grep -vxF "$dest" "$shells" > "$shells.guard-tmp" || true
    cat "$shells.guard-tmp" > "$shells" && rm -f "$shells.guard-tmp"
    echo "install.sh: removed $dest from $shells"
  fi
  rm -f "$dest" "$full"
  rmdir "$prefix/libexec/guard" 2>/dev/null || true
  echo "install.sh: removed $dest and $full"
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
[ -n "$front" ] || front="$(dirname "$binary")/guard-shell"
[ -x "$front" ] || die "no shell front at $front (cargo build --release puts guard-shell beside guard; or give --front)"

install -d -m 0755 "$prefix/bin" "$prefix/libexec" "$prefix/libexec/guard"
install -m 0755 "$binary" "$full.new"
mv -f "$full.new" "$full"
# Executable but not readable: the kernel then starts every front
# undumpable, so no process of the agent's user can open its memory
# (README, "The shell front").
install -m 0711 "$front" "$dest.new"
mv -f "$dest.new" "$dest"
echo "install.sh: installed $dest (the shell front) and $full"

if [ $system -eq 1 ]; then
  install -d -m 0755 "$(dirname "$shells")"
  touch "$shells"
  grep -qxF "$dest" "$shells" || { echo "$dest" >> "$shells"; echo "install.sh: added $dest to $shells"; }

  install -d -o root -g root -m 0755 "$etc" "$etc/rules.d"
  if [ ! -e "$etc/config.yaml" ]; then
    {
      cat <<'YAML'
# guard configuration. Root-owned: the agent must not be able to change it.
# The shipped rule packs are built in; add your own in rules.d/*.yaml.
shell: /bin/bash
default: allow      # commands no rule matches
dynamic: review     # commands only known at run time ($cmd, eval "$x", … | sh)
YAML
      if [ $broker -eq 1 ]; then
        cat <<YAML
# Every line is decided by the broker, which runs as \`$broker_user\`. While
# it is down, every line is refused: there is no falling back.
broker: /run/guard/broker.sock
broker_user: $broker_user
YAML
      fi
    } > "$etc/config.yaml"
    chown root:root "$etc/config.yaml"
    chmod 0644 "$etc/config.yaml"
    echo "install.sh: wrote $etc/config.yaml"
  elif [ $broker -eq 1 ] && ! grep -q '^broker:' "$etc/config.yaml"; then
    echo "install.sh: note: $etc/config.yaml was kept and names no broker; add" \
         "'broker: /run/guard/broker.sock' to it to enforce (embedded mode is advisory)"
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
  here=$(cd "$(dirname "$0")" && pwd)
  if [ -d "$here/contrib/systemd" ]; then
    install -d -m 0755 "$units"
    for unit in guard-reap@.service guard-reap@.timer; do
      sed "s|@GUARD@|$full|g" "$here/contrib/systemd/$unit" > "$units/$unit.new"
      chmod 0644 "$units/$unit.new"
      mv -f "$units/$unit.new" "$units/$unit"
    done
    echo "install.sh: installed $units/guard-reap@.{service,timer}"
  fi

  if [ $broker -eq 1 ]; then
    # The broker's own user: it owns the log, sessions, credentials and
    # the approver's secret, and is never the agent.
    if ! id "$broker_user" >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/guard --no-create-home \
              --shell /usr/sbin/nologin --comment "guard broker" "$broker_user"
      echo "install.sh: created system user $broker_user"
    fi
    install -d -o "$broker_user" -g "$broker_user" -m 0700 "$lib" "$logs"
    echo "install.sh: $lib and $logs belong to $broker_user (0700)"
    if [ -d "$here/contrib/systemd" ]; then
      install -d -m 0755 "$units"
      for unit in guard-broker.socket guard-broker.service; do
        sed -e "s|@GUARD@|$full|g" -e "s|@BROKER_USER@|$broker_user|g" \
          "$here/contrib/systemd/$unit" > "$units/$unit.new"
        chmod 0644 "$units/$unit.new"
        mv -f "$units/$unit.new" "$units/$unit"
      done
      echo "install.sh: installed $units/guard-broker.{socket,service}"
    fi
    if [ $systemd_running -eq 1 ]; then
      systemctl daemon-reload && systemctl enable --now guard-broker.socket >/dev/null \
        && echo "install.sh: enabled guard-broker.socket"
    else
      echo "install.sh: no systemd here; run the broker yourself, as $broker_user:"
      echo "  setpriv --reuid=$broker_user --regid=$broker_user --init-groups \\"
      echo "    --inh-caps=+sys_ptrace,+dac_read_search --ambient-caps=+sys_ptrace,+dac_read_search $full broker &"
    fi
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
    if [ $systemd_running -eq 1 ]; then
      systemctl daemon-reload && systemctl enable --now "guard-reap@$user.timer" >/dev/null \
        && echo "install.sh: enabled guard-reap@$user.timer"
    fi
  fi
fi
