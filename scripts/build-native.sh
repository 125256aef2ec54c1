#!/bin/sh
# The nsnet-cni thin client (see native/nsnet-cni.c): a C program, because a CNI plugin is a new
# process per call and Node.js alone starts slower than the reference plugin finishes an ADD.
# The checkout's absolute path is built in, so the binary can be copied into /opt/cni/bin.
set -eu
cd "$(dirname "$0")/.."
home=$(pwd)
node=$(command -v node)
for p in "$home" "$node"; do
  case "$p" in *'"'*|*'\'*) echo "build-native: paths must not contain quotes or backslashes: $p" >&2; exit 1 ;; esac
done
${CC:-cc} -O2 -Wall -Wextra -Werror -DNSNET_HOME="\"$home\"" -DNSNET_NODE="\"$node\"" -o bin/nsnet-cni native/nsnet-cni.c
# The per-container monitor (native/nsnet-monitor.c): one per detached container for its whole
# life, so it is linked statically — its resident memory is then its own pages, under 1 MB.
${CC:-cc} -Os -static -Wall -Wextra -Werror -o bin/nsnet-monitor native/nsnet-monitor.c
# bin/nsnet itself (native/nsnet-client.c): hands each command to the nsnet service, or runs
# Node on bin/nsnet.mjs in-process. Static too: every command execs it, and the dynamic loader
# (finding and mapping libc) was a third of its run. Built aside and renamed, so a running
# bin/nsnet is never half-written.
${CC:-cc} -O2 -static -Wall -Wextra -Werror -DNSNET_HOME="\"$home\"" -DNSNET_NODE="\"$node\"" -o bin/nsnet.new native/nsnet-client.c
mv -f bin/nsnet.new bin/nsnet
