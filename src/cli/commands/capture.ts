/** `nsnet capture CONTAINER[:IFACE] [-w FILE] [-c N] [FILTER...]`: tcpdump inside the container's network namespace. */
import { Command } from 'commander';
import { runInNetns } from '../../kernel/netns-exec.js';
import { planCapture } from '../../ops/capture.js';
import { contextFor, requireRoot, withCommon } from '../common.js';

export function captureCommand(): Command {
  return withCommon(new Command('capture'), { dryRun: false })
    .description("capture a container's traffic with tcpdump, run inside its network namespace (no need to know the veth on the host)")
    .argument('<target>', 'CONTAINER or CONTAINER:IFACE (IFACE defaults to eth0)')
    .argument('[filter...]', 'a pcap-filter expression, e.g. icmp, or tcp port 80')
    .option('-w, --write <file>', 'write the packets to a pcap file instead of printing them')
    .option('-c, --count <n>', 'stop after n packets')
    .action(async (target: string, filter: string[], o: { write?: string; count?: string }, cmd: Command) => {
      requireRoot();
      const ctx = contextFor(cmd, false);
      let plan: ReturnType<typeof planCapture>;
      try {
        plan = planCapture(ctx, { target, write: o.write, count: o.count, filter });
      } finally {
        ctx.close();
      }
      process.exitCode = await runInNetns(plan.netns, plan.argv);
    });
}
