/** nsnet's background processes a job started (DNS responder, CNI service), found by their state root. */
import fs from 'node:fs';

/** Processes in this network namespace (not this one) whose command line has `root` as an argument. */
export function daemonsWithRoot(root: string): Array<{ pid: number; argv: string[] }> {
  const mine = fs.readlinkSync('/proc/self/ns/net');
  const out: Array<{ pid: number; argv: string[] }> = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (fs.readlinkSync(`/proc/${e}/ns/net`) !== mine) continue;
      const argv = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter((x) => x !== '');
      if (argv.includes(root)) out.push({ pid: Number(e), argv });
    } catch {
      /* gone */
    }
  }
  return out;
}
