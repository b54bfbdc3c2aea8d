#!/usr/bin/env bash
# The one entry point the README and CI use. It installs what deno-dpif needs
# on a fresh machine, then runs a deno task:
#   bash tools/run.sh start [flags]   start the service (dpdk when present, dummy ports otherwise)
#   bash tools/run.sh test            run every test
#   bash tools/run.sh bench [flags]   run the benchmark matrix
# Deno comes from npm (deno@2.9.6) into .tools/ unless `deno` is on PATH.
# DPDK comes from Debian's packages when running as root; otherwise we say so
# and the dummy backend (and the tests that need no DPDK) still run.
set -euo pipefail
cd "$(dirname "$0")/.."
DENO_VERSION=2.9.6

log() { echo "tools/run.sh: $*" >&2; }

ensure_deno() {
  if command -v deno >/dev/null 2>&1; then DENO=$(command -v deno); return; fi
  if [ ! -x .tools/node_modules/.bin/deno ]; then
    command -v npm >/dev/null 2>&1 || { log "neither deno nor npm found: install Node.js and npm first"; exit 1; }
    log "installing deno@$DENO_VERSION from npm into .tools/"
    npm install --prefix "$PWD/.tools" --no-audit --no-fund "deno@$DENO_VERSION" >&2
  fi
  DENO=$PWD/.tools/node_modules/.bin/deno
}

ensure_dpdk() {
  if pkg-config --exists libdpdk 2>/dev/null && command -v dpdk-testpmd >/dev/null 2>&1; then return; fi
  if [ "${DPIF_NO_DPDK_INSTALL:-0}" = 1 ]; then log "DPDK not installed (DPIF_NO_DPDK_INSTALL=1): dummy backend only"; return; fi
  if [ "$(id -u)" != 0 ]; then
    log "DPDK (libdpdk-dev, dpdk, dpdk-dev) is not installed and we are not root: dummy backend only"
    return
  fi
  log "installing DPDK from Debian packages (libdpdk-dev dpdk dpdk-dev)"
  if ! { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libdpdk-dev dpdk dpdk-dev pkg-config gcc >&2; }; then
    log "apt-get could not install DPDK: dummy backend only"
  fi
}

# Tools the namespace tests use (ip, ping, nc, tcpdump-free captures) and
# the API load script (wrk). Missing ones only skip the tests that need them.
ensure_test_tools() {
  local missing=()
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v ping >/dev/null 2>&1 || missing+=(iputils-ping)
  command -v nc >/dev/null 2>&1 || missing+=(netcat-openbsd)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v curl >/dev/null 2>&1 || missing+=(curl)       # two-host test: REST inside a netns
  command -v ethtool >/dev/null 2>&1 || missing+=(ethtool) # two-host test: veth offloads off
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ] || [ "${DPIF_NO_DPDK_INSTALL:-0}" = 1 ]; then
    log "not installing ${missing[*]}: the tests that need them are skipped"
    return 0
  fi
  log "installing ${missing[*]} from Debian packages"
  { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; } ||
    log "apt-get could not install ${missing[*]}: the tests that need them are skipped"
}

build_shim() {
  if [ -f ffi/shim/build.sh ] && pkg-config --exists libdpdk 2>/dev/null; then
    bash ffi/shim/build.sh >&2 || log "building the DPDK shim failed: dummy backend only"
  fi
}

task=${1:-}
[ -n "$task" ] || { echo "usage: bash tools/run.sh start|test|bench|fuzz [args...]" >&2; exit 2; }
shift
ensure_deno
ensure_dpdk
ensure_test_tools
build_shim
exec "$DENO" task "$task" "$@"
