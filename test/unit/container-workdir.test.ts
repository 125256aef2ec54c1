/**
 * A WorkingDir the image lacks is made in the container's root before it runs, as dockerd's
 * SetupWorkingDirectory does, and a symbolic link in the image is followed inside the root only.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NsnetError } from '../../src/core/errors.js';
import { ensureWorkingDir } from '../../src/kernel/mounts.js';

describe('ensureWorkingDir', () => {
  let dir = '';
  let root = '';
  let outside = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-workdir-'));
    root = path.join(dir, 'merged');
    outside = path.join(dir, 'host');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc', 'motd'), 'x');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('makes every missing component, mode 0755; an existing directory is kept', () => {
    ensureWorkingDir(root, '/srv/app/data');
    const st = fs.statSync(path.join(root, 'srv/app/data'));
    assert.ok(st.isDirectory());
    assert.equal(st.mode & 0o777, 0o755);
    ensureWorkingDir(root, '/srv/app/data');
    ensureWorkingDir(root, '/etc');
  });

  test('a link is followed inside the root: absolute, relative and .. past the root stay in it', () => {
    fs.symlinkSync(outside, path.join(root, 'abs')); // the host path, as the image wrote it
    fs.symlinkSync('../../../../..' + outside, path.join(root, 'rel'));
    ensureWorkingDir(root, '/abs/one');
    ensureWorkingDir(root, '/rel/two');
    ensureWorkingDir(root, '/../../../x');
    assert.equal(fs.existsSync(outside), false, 'nothing made on the host');
    assert.ok(fs.statSync(path.join(root, outside, 'one')).isDirectory());
    assert.ok(fs.statSync(path.join(root, outside, 'two')).isDirectory());
    assert.ok(fs.statSync(path.join(root, 'x')).isDirectory());
  });

  test('a file in the path is refused with Docker\'s words; a link loop is refused', () => {
    assert.throws(() => ensureWorkingDir(root, '/etc/motd/sub'), (e: unknown) => e instanceof NsnetError && /Cannot mkdir: \/etc\/motd\/sub is not a directory \(\/etc\/motd is a file/.test(e.message));
    fs.symlinkSync('/loop', path.join(root, 'loop'));
    assert.throws(() => ensureWorkingDir(root, '/loop/x'), /too many levels of symbolic links/);
  });
});
