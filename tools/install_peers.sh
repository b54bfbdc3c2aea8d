#!/usr/bin/env bash
# Installs the peers `deno task bench` measures deno-dpif against, from
# Debian's packages: dpdk-testpmd (dpdk, dpdk-dev) and Open vSwitch with
# DPDK (openvswitch-switch-dpdk, which provides
# /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk). Needs root.
#
# The bench starts and stops both itself, in private run folders; nothing is
# started here (the OVS services are not enabled). Installing
# openvswitch-switch-dpdk registers ovs-vswitchd-dpdk as the `ovs-vswitchd`
# alternative with a higher priority; this script puts the alternative back
# to what it was, so tools that run plain `ovs-vswitchd` (tools/ovs_record.ts)
# keep the build they were recorded with. The bench calls the DPDK binary by
# its full path.
#
# usage: bash tools/install_peers.sh
set -euo pipefail

log() { echo "tools/install_peers.sh: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "needs root (apt-get install dpdk dpdk-dev openvswitch-switch-dpdk)"
  exit 1
fi

OVS_DPDK=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
if command -v dpdk-testpmd >/dev/null 2>&1 && [ -x "$OVS_DPDK" ]; then
  log "dpdk-testpmd and $OVS_DPDK are installed already"
  exit 0
fi

previous=$(update-alternatives --query ovs-vswitchd 2>/dev/null | sed -n 's/^Value: //p' || true)
previous_mode=$(update-alternatives --query ovs-vswitchd 2>/dev/null | sed -n 's/^Status: //p' || true)

log "installing dpdk, dpdk-dev and openvswitch-switch-dpdk from Debian packages"
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  dpdk dpdk-dev openvswitch-switch-dpdk >&2

now=$(update-alternatives --query ovs-vswitchd 2>/dev/null | sed -n 's/^Value: //p' || true)
if [ -n "$previous" ] && [ "$now" != "$previous" ]; then
  update-alternatives --set ovs-vswitchd "$previous" >&2
  [ "$previous_mode" = auto ] && update-alternatives --auto ovs-vswitchd >&2
  [ "$(update-alternatives --query ovs-vswitchd | sed -n 's/^Value: //p')" = "$previous" ] ||
    update-alternatives --set ovs-vswitchd "$previous" >&2
fi

command -v dpdk-testpmd >/dev/null 2>&1 || { log "dpdk-testpmd is missing after the install"; exit 1; }
[ -x "$OVS_DPDK" ] || { log "$OVS_DPDK is missing after the install"; exit 1; }
log "ready: $(command -v dpdk-testpmd), $OVS_DPDK ($("$OVS_DPDK" --version | head -1))"
