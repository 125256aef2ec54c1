#!/usr/bin/env bash
# Everything nsnet needs on a fresh Debian 12 machine (run as root): the OS tools it drives or
# tests with, the npm dependencies (with their native parts), and the compiled TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nft >/dev/null || need+=(nftables)          # brings libnftables1, used in-process
command -v ping >/dev/null || need+=(iputils-ping)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
command -v dot >/dev/null || need+=(graphviz)           # nsnet graph --format svg
command -v tcpdump >/dev/null || need+=(tcpdump)        # nsnet capture
command -v openssl >/dev/null || need+=(openssl)        # image pull tests: a self-signed certificate for an HTTPS registry
# The iptables firewall driver: iptables-restore for its chains, ebtables(-nft) for container
# ports; Debian's iptables package brings both (its ebtables package is the legacy one).
{ command -v iptables-restore && command -v ebtables-restore; } >/dev/null || need+=(iptables)
test -x /bin/busybox || need+=(busybox-static)       # a tiny root filesystem for the --rootfs test
command -v cc >/dev/null || need+=(gcc libc6-dev)           # the nsnet-cni thin client (native/)
# npm run bench: a target whose tool is missing fails the run, so install them all.
command -v iperf3 >/dev/null || need+=(iperf3)          # throughput between two containers
command -v strace >/dev/null || need+=(strace)          # no child process in the library's attach
test -x /usr/bin/time || need+=(time)                   # peak RSS of CLI commands
command -v ps >/dev/null || need+=(procps)              # the noise note (other processes using the CPU)
# nsnet-cni's tests and benchmark: Podman with its CNI backend, the reference CNI plugins
# (bridge, host-local) to compare with, and Go with the reference CNI library for a libcni driver.
cni=()
command -v podman >/dev/null || cni+=(podman runc conmon)
test -x /usr/lib/cni/bridge || cni+=(containernetworking-plugins)
command -v go >/dev/null || cni+=(golang-go)
test -d /usr/share/gocode/src/github.com/containernetworking/cni/libcni || cni+=(golang-github-appc-cni-dev)
# The Docker Engine API's clients and the pull tests (issue 18): Debian's docker.io for its docker CLI
# (20.10) only, docker-compose 1.29 (python, on python3-docker), python3-docker itself, and
# docker-registry with skopeo for a registry in the test sandbox. docker.io, containerd and
# docker-registry bring daemons that nsnet never runs: see no_daemons below.
dockerapi=()
test -x /usr/bin/docker || dockerapi+=(docker.io)
command -v docker-compose >/dev/null || dockerapi+=(docker-compose)
/usr/bin/python3 -c 'import docker' 2>/dev/null || dockerapi+=(python3-docker)
command -v docker-registry >/dev/null || dockerapi+=(docker-registry)
command -v skopeo >/dev/null || dockerapi+=(skopeo)

# Their packages start dockerd, containerd and the registry at install (invoke-rc.d: on a machine
# without systemd, /etc/init.d/docker really starts dockerd), and systemd would start them at boot.
# A policy-rc.d that says 101 makes invoke-rc.d and deb-systemd-invoke refuse every start during
# the install (one the machine already has is kept); with systemd the units are disabled after.
no_daemons() {
  local policy=/usr/sbin/policy-rc.d made=
  if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made=1; fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null || { [[ -z $made ]] || rm -f "$policy"; return 1; }
  [[ -z $made ]] || rm -f "$policy"
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now docker.service docker.socket containerd.service docker-registry.service 2>/dev/null || true
  fi
}

if ((${#need[@]} + ${#cni[@]} + ${#dockerapi[@]} > 0)); then
  echo "setup: installing ${need[*]} ${cni[*]} ${dockerapi[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if ((${#need[@]} > 0)); then apt-get install -y -qq "${need[@]}" >/dev/null; fi
  # Without recommends: Podman's pull in slirp4netns, fuse-overlayfs, buildah and more that the tests do not use.
  if ((${#cni[@]} > 0)); then apt-get install -y -qq --no-install-recommends "${cni[@]}" >/dev/null; fi
  if ((${#dockerapi[@]} > 0)); then no_daemons "${dockerapi[@]}"; fi
fi

npm ci --no-audit --no-fund
# npm 11 runs dependency install scripts only when allowScripts approves them; prove that the
# native parts really load rather than failing later in the middle of a command.
node -e "require('better-sqlite3')(':memory:').prepare('select 1').get(); require('koffi').load('libc.so.6')"
npm run build --silent
echo "setup: done"
