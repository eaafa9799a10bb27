import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { checkNode } from '../../miner/doctor.ts';
import { fakeLlamaServer, MinerProcess, tempDir, fakeModel } from './helpers.ts';

async function doctor(args: string[]): Promise<{ code: number | null; output: string }> {
  const proc = new MinerProcess(['doctor', ...args], { MIA_NVIDIA_SMI: '/nonexistent/nvidia-smi' });
  const { code } = await proc.exited;
  return { code, output: proc.output };
}

describe('mia-miner doctor', function () {
  this.timeout(30_000);
  let api: TestApi;
  const state = tempDir();

  before(async () => {
    api = await startTestApi();
  });
  after(async () => {
    await api?.close();
    state.remove();
  });

  it('passes when binary, model and backend are in place, warning that there is no GPU', async () => {
    const { code, output } = await doctor([
      '--backend-url',
      api.url,
      '--llama-server',
      fakeLlamaServer,
      '--model',
      fakeModel,
      '--state-dir',
      state.path,
    ]);
    assert.equal(code, 0, output);
    assert.match(output, /\[ ok \] node .*Node 2\d/);
    assert.match(output, /\[warn\] GPU .*none.*CPU/);
    assert.match(output, /\[ ok \] llama-server .*version: 0\.4\.0-dev/);
    assert.match(output, /\[ ok \] model .*MiB GGUF/);
    assert.match(output, /\[ ok \] backend .*healthy/);
    assert.match(output, /all checks passed/);
  });

  it('fails with a fix-it line for each missing piece', async () => {
    const { code, output } = await doctor([
      '--backend-url',
      'http://127.0.0.1:9',
      '--llama-server',
      '/nonexistent/llama-server',
      '--model',
      '/nonexistent/model.gguf',
      '--state-dir',
      state.path,
    ]);
    assert.equal(code, 1, output);
    assert.match(
      output,
      /\[FAIL\] llama-server .*not found[\s\S]*fix: build it with `miner\/install.sh`/,
    );
    assert.match(output, /\[FAIL\] model .*ENOENT[\s\S]*fix: fix the path in --model/);
    assert.match(output, /\[FAIL\] backend .*unreachable[\s\S]*fix: check --backend-url/);
    assert.match(output, /3 check\(s\) failed/);
  });

  it('refuses a file that is not GGUF', async () => {
    const { code, output } = await doctor([
      '--backend-url',
      api.url,
      '--llama-server',
      fakeLlamaServer,
      '--model',
      fakeLlamaServer,
    ]);
    assert.equal(code, 1);
    assert.match(output, /\[FAIL\] model .*not a GGUF file/);
  });

  it('fails on a Node older than 24, saying which to install', () => {
    const check = checkNode('22.11.0');
    assert.equal(check.level, 'fail');
    assert.match(check.detail, /Node 22\.11\.0; mia-miner needs Node 24/);
    assert.match(check.fix ?? '', /install Node 24/);
    assert.equal(checkNode('24.0.0').level, 'ok');
  });

  it('prints its version with --version and the version command', async () => {
    for (const args of [['--version'], ['version']]) {
      const proc = new MinerProcess(args);
      const { code } = await proc.exited;
      assert.equal(code, 0, proc.output);
      assert.match(proc.output, /^mia-miner \d+\.\d+\.\d+ \(Node 2\d/);
    }
  });
});
