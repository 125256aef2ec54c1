import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configFromChanges } from '../../src/api/image-import.js';

describe('docker import --change (configFromChanges)', () => {
  it('CMD and ENTRYPOINT in JSON or shell form, ENV and LABEL pairs, EXPOSE, USER, WORKDIR', () => {
    assert.deepEqual(
      configFromChanges(['CMD ["sh", "-c", "echo hi"]', 'ENTRYPOINT /bin/run --fast', 'ENV A=b C="d e"', 'ENV OLD value with spaces', 'LABEL tier=base', 'EXPOSE 80 53/udp', 'USER 1000:1000', 'WORKDIR /srv', 'cmd ["true"]']),
      {
        Cmd: ['true'],
        Entrypoint: ['/bin/sh', '-c', '/bin/run --fast'],
        Env: ['A=b', 'C=d e', 'OLD=value with spaces'],
        Labels: { tier: 'base' },
        ExposedPorts: { '80/tcp': {}, '53/udp': {} },
        User: '1000:1000',
        WorkingDir: '/srv',
      },
    );
    assert.deepEqual(configFromChanges([]), {});
  });

  it('refuses what dockerd refuses there, naming the change', () => {
    assert.throws(() => configFromChanges(['RUN apt-get update']), /invalid change "RUN apt-get update": docker import takes CMD/);
    assert.throws(() => configFromChanges(['CMD ["sh", 1]']), /not a JSON list of strings/);
    assert.throws(() => configFromChanges(['EXPOSE eighty']), /eighty is not PORT/);
    assert.throws(() => configFromChanges(['CMD']), /expected INSTRUCTION ARGUMENTS/);
  });
});
