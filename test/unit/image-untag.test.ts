/** Which references `rmi REF` removes (dockerd's image_delete.go): REF, and with a repository's last tag its digest references. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { untagRefs } from '../../src/image/images.js';

const D = `sha256:${'a'.repeat(64)}`;
const refs = ['docker.io/library/busybox:latest', 'localhost:5000/busybox:latest', `localhost:5000/busybox@${D}`];

test("a repository's last tag takes that repository's digest references with it", () => {
  assert.deepEqual(untagRefs(refs, 'localhost:5000/busybox:latest'), ['localhost:5000/busybox:latest', `localhost:5000/busybox@${D}`]);
});

test("another repository's tag, or a second tag of the same one, leaves the digest references", () => {
  assert.deepEqual(untagRefs(refs, 'docker.io/library/busybox:latest'), ['docker.io/library/busybox:latest']);
  assert.deepEqual(untagRefs([...refs, 'localhost:5000/busybox:1'], 'localhost:5000/busybox:latest'), ['localhost:5000/busybox:latest']);
});

test('a digest reference alone is removed alone', () => {
  assert.deepEqual(untagRefs(refs, `localhost:5000/busybox@${D}`), [`localhost:5000/busybox@${D}`]);
});
