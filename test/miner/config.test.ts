import assert from 'node:assert/strict';
import { ConfigError, defaultMinerName, helpText, parseCommandLine } from '../../miner/config.ts';

describe('miner configuration', () => {
  it('takes settings from the environment and lets flags override them', () => {
    const { command, config } = parseCommandLine(
      ['run', '--slots', '4', '--model', '/m/flag.gguf'],
      {
        MIA_SLOTS: '2',
        MIA_MODEL: '/m/env.gguf',
        MIA_BACKEND_URL: 'http://backend:8000',
        MIA_CTX_PER_SLOT: '2048',
      },
    );
    assert.equal(command, 'run');
    assert.equal(config.slots, 4);
    assert.equal(config.model, '/m/flag.gguf');
    assert.equal(config.backendUrl, 'http://backend:8000');
    assert.equal(config.ctxPerSlot, 2048);
  });

  it('applies documented defaults', () => {
    const { config } = parseCommandLine(['run'], {});
    assert.equal(config.slots, 1);
    assert.equal(config.gpuLayers, 99);
    assert.equal(config.llamaServer, 'llama-server');
    assert.equal(config.pollWait, 30);
    assert.equal(config.llamaUrl, undefined);
    assert.equal(config.claimAhead, undefined, 'unset: as many as --slots (runMiner)');
  });

  it('takes --claim-ahead and MIA_CLAIM_AHEAD, 0 to turn claiming ahead off', () => {
    assert.equal(parseCommandLine(['run', '--claim-ahead', '0'], { MIA_CLAIM_AHEAD: '3' }).config.claimAhead, 0);
    assert.equal(parseCommandLine(['run'], { MIA_CLAIM_AHEAD: '3' }).config.claimAhead, 3);
    assert.throws(() => parseCommandLine(['run', '--claim-ahead', '-1'], {}), (e: unknown) => e instanceof ConfigError && /--claim-ahead/.test(e.message));
  });

  it('takes --version and -V', () => {
    assert.equal(parseCommandLine(['--version'], {}).version, true);
    assert.equal(parseCommandLine(['-V'], {}).version, true);
    assert.equal(parseCommandLine(['run'], {}).version, false);
  });

  it('names the flag or variable of a bad value', () => {
    assert.throws(
      () => parseCommandLine(['run', '--slots', 'many'], {}),
      (e: unknown) => e instanceof ConfigError && /--slots/.test(e.message),
    );
    assert.throws(() => parseCommandLine(['run'], { MIA_GPU_LAYERS: '-1' }), /MIA_GPU_LAYERS/);
    assert.throws(
      () => parseCommandLine(['run'], { MIA_BACKEND_URL: 'not a url' }),
      /MIA_BACKEND_URL/,
    );
    assert.throws(() => parseCommandLine(['run', '--name', 'bad name!'], {}), /--name/);
    assert.throws(() => parseCommandLine(['run', '--no-such-flag'], {}), ConfigError);
  });

  it('treats an empty variable as unset', () => {
    const { config } = parseCommandLine(['run'], { MIA_MODEL: '', MIA_SLOTS: '' });
    assert.equal(config.model, undefined);
    assert.equal(config.slots, 1);
  });

  it('splits extra llama-server arguments', () => {
    const { config } = parseCommandLine(['run', '--llama-args', ' -t 8  -fa on '], {});
    assert.deepEqual(config.extraLlamaArgs, ['-t', '8', '-fa', 'on']);
  });

  it('refuses a --poll-wait of 0 (an idle miner would send thousands of claims a second)', () => {
    assert.throws(
      () => parseCommandLine(['run', '--poll-wait', '0'], {}),
      (e: unknown) => e instanceof ConfigError && /--poll-wait/.test(e.message),
    );
  });

  it('derives a valid default name from the host name', () => {
    assert.equal(defaultMinerName('gpu box #1.local'), 'gpu-box-1.local');
    assert.equal(defaultMinerName('???'), 'miner');
  });

  it('documents every setting with its flag and variable in --help', () => {
    const help = helpText();
    for (const s of [
      '--backend-url',
      'MIA_BACKEND_URL',
      '--llama-url',
      'MIA_STATE_DIR',
      '--ctx-per-slot',
      'doctor',
    ]) {
      assert.ok(help.includes(s), s);
    }
  });
});
