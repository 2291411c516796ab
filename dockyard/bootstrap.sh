#!/bin/sh
# Dockyard set-up for a fresh Debian 12 / Ubuntu machine. Installs only what is missing.
#
#   dockyard/bootstrap.sh lab  [dockyard lab options]   install, start the sandbox, open JupyterLab
#   dockyard/bootstrap.sh test [pytest options]         install, run the whole test suite
#   dockyard/bootstrap.sh hub  [dockyard hub start options]   install, run a class's JupyterHub on 127.0.0.1
#
# Needs root (it re-runs itself with sudo when it can): the private sandbox makes a
# bridge, cgroups and mounts.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
mode=${1:-}
case "$mode" in
  lab|test|hub) shift ;;
  *) echo "usage: $0 lab|test|hub [options]" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -E sh "$0" "$mode" "$@"
  fi
  echo "error: run this as root (the sandbox creates a bridge, cgroups and mounts)" >&2
  exit 1
fi

say() { printf '==> %s\n' "$*" >&2; }

# --- Debian packages ----------------------------------------------------------------
need=""
# A machine that already has a dockerd (docker-ce, say) keeps it: docker.io would conflict.
command -v dockerd >/dev/null 2>&1 || need="$need docker.io"
command -v docker-registry >/dev/null 2>&1 || need="$need docker-registry"
command -v mmdebstrap >/dev/null 2>&1 || need="$need mmdebstrap"
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need="$need busybox-static"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v mkfs.ext4 >/dev/null 2>&1 || need="$need e2fsprogs"
command -v git >/dev/null 2>&1 || need="$need git"
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || need="$need docker-compose"  # lesson and lab 10
if ! grep -q '^ID=debian' /etc/os-release 2>/dev/null; then
  # building the Debian-based stand-in images on Ubuntu needs Debian's archive keys
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need="$need debian-archive-keyring"
fi
if [ "$mode" = test ]; then
  # the browser tests drive a real JupyterLab in Debian's Chromium (pytest-playwright, no browser download)
  command -v chromium >/dev/null 2>&1 || need="$need chromium"
  dpkg-query -W -f='${Status}' fonts-dejavu-core 2>/dev/null | grep -q 'ok installed' || need="$need fonts-dejavu-core"
fi
if [ "$mode" != lab ]; then
  # dockyard hub's proxy, configurable-http-proxy, is a Node program (npm brings nodejs)
  command -v npm >/dev/null 2>&1 || need="$need npm"
fi
py=python3
if ! command -v "$py" >/dev/null 2>&1; then
  need="$need python3 python3-venv"
elif ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need="$need python3-venv"
fi
if [ -n "$need" ]; then
  say "installing Debian packages:$need"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "error: Dockyard needs Python 3.10 or newer; $("$py" --version) found" >&2
  exit 1
fi

# --- the virtualenv -------------------------------------------------------------------
venv="$here/.venv"
stamp="$venv/.dockyard-installed"
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  "$py" -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing Python dependencies into $venv"
  "$venv/bin/python" -m pip install -q -e ".[test]"
  echo "$want" > "$stamp"
fi

# --- configurable-http-proxy, for dockyard hub: into the checkout's .node/, not the system ------------
chp="$here/.node/node_modules/.bin/configurable-http-proxy"
if [ "$mode" != lab ] && [ ! -x "$chp" ]; then
  say "installing configurable-http-proxy into $here/.node"
  npm install --prefix "$here/.node" --no-audit --no-fund --loglevel=error configurable-http-proxy@4.6.3 >/dev/null
fi

# --- go --------------------------------------------------------------------------------
case "$mode" in
  lab)
    exec "$venv/bin/dockyard" lab "$@"
    ;;
  hub)
    exec "$venv/bin/dockyard" hub start "$@"
    ;;
  test)
    set +e
    "$venv/bin/python" -m pytest "$@"
    rc=$?
    # pytest's 5 means "no tests collected": that is a failure of the suite, not a pass
    exit $rc
    ;;
esac
