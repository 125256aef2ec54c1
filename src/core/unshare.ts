/**
 * How a container's process gets its PID and mount namespaces: the arguments of unshare(1).
 * Shared by the kernel, which runs it, and by --dry-run, which prints it.
 */
export function unshareArgs(spec: { argv: readonly string[]; rootfs?: string | undefined }): string[] {
  // Slave, not private: the container's copy of /run/netns must go on receiving the host's
  // `ip netns add/delete` mounts. A private copy freezes it at start, so a namespace added later
  // is a plain empty file in there, and `ip addr` in the container, resolving a veth's
  // link-netnsid by trying every /run/netns entry, says "Peer netns reference is invalid" for
  // each. The container's own mounts (its /proc) still do not reach the host.
  const args = ['--pid', '--fork', '--kill-child', '--mount', '--mount-proc', '--propagation', 'slave'];
  if (spec.rootfs !== undefined) args.push('--root', spec.rootfs, '--wd', '/');
  return [...args, '--', ...spec.argv];
}
