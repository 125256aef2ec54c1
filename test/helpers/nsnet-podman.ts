/**
 * Podman driving nsnet-cni, for integration tests: a fresh sandbox with nsnet's state root, a
 * Podman harness in it (test/helpers/podman.ts) whose plugin directory is this checkout's bin/
 * and whose networks are `conflists`, and the cleanup of both whatever the test did.
 */
import path from 'node:path';
import { createPodmanHarness, type PodmanHarness } from './podman.js';
import { createSandbox, REPO, type Sandbox } from './sandbox.js';

/**
 * Run `body` with the sandbox (tag: see createSandbox) and the harness; destroy both after it.
 * Returns the cleanup problems (assert them empty after `body`'s own assertions).
 */
export async function withNsnetPodman(tag: string, conflists: (sb: Sandbox) => object[], body: (sb: Sandbox, h: PodmanHarness) => Promise<void>): Promise<string[]> {
  let sb: Sandbox | undefined;
  let h: PodmanHarness | undefined;
  const problems: string[] = [];
  try {
    sb = await createSandbox(tag);
    h = await createPodmanHarness(sb, { pluginDirs: [path.join(REPO, 'bin')], conflists: conflists(sb), env: { NSNET_ROOT: sb.root } });
    await body(sb, h);
  } finally {
    if (h !== undefined) problems.push(...(await h.destroy()));
    if (sb !== undefined) problems.push(...(await sb.destroy()).problems);
  }
  return problems;
}
