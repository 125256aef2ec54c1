#!/bin/sh
# The nsnet-cni thin client (see native/nsnet-cni.c): a C program, because a CNI plugin is a new
# process per call and Node.js alone starts slower than the reference plugin finishes an ADD.
# The checkout's absolute path is built in, so the binary can be copied into /opt/cni/bin.
set -eu
cd "$(dirname "$0")/.."
home=$(pwd)
case "$home" in *'"'*|*'\'*) echo "build-native: the checkout path must not contain quotes or backslashes: $home" >&2; exit 1 ;; esac
${CC:-cc} -O2 -Wall -Wextra -Werror -DNSNET_HOME="\"$home\"" -o bin/nsnet-cni native/nsnet-cni.c
