/**
 * How a container's process gets its PID and mount namespaces: the arguments of unshare(1).
 * Shared by the kernel, which runs it, and by --dry-run, which prints it.
 */
export function unshareArgs(spec: { argv: readonly string[]; rootfs?: string | undefined }): string[] {
  const args = ['--pid', '--fork', '--kill-child', '--mount', '--mount-proc', '--propagation', 'private'];
  if (spec.rootfs !== undefined) args.push('--root', spec.rootfs, '--wd', '/');
  return [...args, '--', ...spec.argv];
}
