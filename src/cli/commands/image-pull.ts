/**
 * `nsnet image pull REF [--platform os/arch[/variant]] [--insecure-registry HOST[:PORT]]... [-q]`:
 * an image from a registry into nsnet's image store (src/image/pull.ts), printing Docker's progress
 * lines and, last, the normalised reference, as `docker pull` does. Credentials come from Docker's
 * client configuration ($DOCKER_CONFIG/config.json or ~/.docker/config.json, as `docker login`
 * writes it). NSNET_REGISTRY_TIMEOUT sets how many seconds a registry may stay silent (30).
 */
import { Command } from 'commander';
import { invalid } from '../../core/errors.js';
import { dockerConfigCredentials } from '../../image/registry-auth.js';
import { dockerConfigText } from '../../image/registry-files.js';
import { parsePlatform } from '../../image/registry-manifest.js';
import { parseInsecureRegistry, parseRegistryRef } from '../../image/registry-ref.js';
import { pullImage } from '../../image/pull.js';
import { openImageStore } from '../../image/images.js';
import { pullSinkOf } from '../../image/pull-store.js';
import { collect, contextFor, formatOf, withCommon } from '../common.js';
import { printJson, printLines } from '../output.js';

/** NSNET_REGISTRY_TIMEOUT: seconds a registry may stay silent (default 30). */
function idleTimeoutMs(): number | undefined {
  const v = process.env['NSNET_REGISTRY_TIMEOUT'];
  if (v === undefined || v === '') return undefined;
  const seconds = Number(v);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw invalid(`NSNET_REGISTRY_TIMEOUT=${JSON.stringify(v)}: not a number of seconds`, 'give 1 to 3600, e.g. NSNET_REGISTRY_TIMEOUT=60');
  return seconds * 1000;
}

export function imagePullCommand(): Command {
  return withCommon(new Command('pull'), { dryRun: false })
    .description('download an image from a registry (HTTPS; plain HTTP only for localhost or --insecure-registry)')
    .argument('<ref>', 'the image: NAME[:TAG] or NAME@sha256:DIGEST, e.g. localhost:5000/busybox')
    .option('--platform <os/arch>', 'the platform to choose from a manifest list (default linux/amd64), e.g. linux/arm64/v8')
    .option('--insecure-registry <host[:port]>', 'a registry that may be spoken to over plain HTTP (repeatable); localhost, 127.0.0.0/8 and ::1 always may', collect)
    .option('-q, --quiet', 'print only the reference')
    .action(async (input: string, o: { platform?: string; insecureRegistry?: string[]; quiet?: boolean }, cmd: Command) => {
      const platform = o.platform === undefined ? undefined : parsePlatform(o.platform);
      const insecureRegistries = (o.insecureRegistry ?? []).map(parseInsecureRegistry);
      const ref = parseRegistryRef(input);
      const json = formatOf(cmd) === 'json';
      const credentials = dockerConfigCredentials(dockerConfigText(), ref.registry);
      // No host lock while downloading: the image store takes its own lock for the commit only.
      const ctx = contextFor(cmd, true);
      const images = openImageStore(ctx.root, { store: ctx.store });
      try {
        const result = await pullImage(input, pullSinkOf(images), {
          ...(platform !== undefined ? { platform, platformExplicit: true } : {}),
          insecureRegistries,
          idleTimeoutMs: idleTimeoutMs(),
          ...(credentials !== undefined ? { credentials } : {}),
          onProgress: (e) => {
            if (o.quiet !== true && !json && (e.id === undefined || e.status === 'Pull complete' || e.status === 'Already exists')) printLines([e.id === undefined ? e.status : `${e.id}: ${e.status}`]);
          },
        });
        if (json) printJson(result);
        else printLines([result.ref]);
      } finally {
        images.close();
        ctx.close();
      }
    });
}
