/**
 * The 1024th container on one network: the kernel refuses its bridge port with EXFULL (bench
 * scale measured it: "create veth pair ...: EXFULL (54)"); nsnet says the network is full instead.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KernelError, NsnetError } from '../../src/core/errors.js';
import { bridgeRoomFor } from '../../src/plan/kernel-runner.js';

test('EXFULL from the veth request: the bridge is full, with what to do', () => {
  const full = new KernelError('create veth pair nsv1/eth0', 54, 'EXFULL', 'ip link add nsv1 master nsnet0 type veth peer name eth0');
  assert.throws(
    () => bridgeRoomFor('nsnet0', () => { throw full; }),
    (err: unknown) => err instanceof NsnetError && /bridge nsnet0 has no free port: a Linux bridge takes at most 1023 ports/.test(err.message) && /another network/.test(err.hint ?? '') && err.cause === full,
  );
});

test('other errors and success pass through unchanged', () => {
  const other = new KernelError('create veth pair nsv1/eth0', 17, 'EEXIST');
  assert.throws(() => bridgeRoomFor('nsnet0', () => { throw other; }), (err: unknown) => err === other);
  let ran = false;
  bridgeRoomFor('nsnet0', () => { ran = true; });
  assert.ok(ran);
});
