import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, tempDir } from './helpers.ts';

describe('miner/install.sh', () => {
  it('--dry-run prints every step, including the CUDA build and the systemd unit, changes nothing and exits 0', () => {
    const dir = tempDir();
    const prefix = path.join(dir.path, 'prefix');
    try {
      const res = spawnSync(
        'bash',
        [
          path.join(repoRoot, 'miner/install.sh'),
          '--dry-run',
          '--systemd',
          '--prefix',
          prefix,
          '--backend-url',
          'https://mia.example.com',
          '--name',
          'box-1',
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      assert.equal(res.status, 0, res.stderr);
      const out = res.stdout;
      assert.match(
        out,
        /-DGGML_CUDA=ON -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF/,
      );
      assert.match(out, /--target llama-server/);
      assert.match(out, /git clone .*llama\.cpp/);
      assert.match(out, /curl .*Qwen2\.5-7B-Instruct-Q4_K_M\.gguf/);
      assert.match(out, /MIA_BACKEND_URL=https:\/\/mia\.example\.com/);
      assert.match(out, /MIA_MINER_NAME=box-1/);
      assert.match(out, /Restart=always/);
      assert.match(out, /KillMode=mixed/);
      assert.match(out, /DRY RUN complete: nothing was changed/);
      assert.equal(existsSync(prefix), false);
    } finally {
      dir.remove();
    }
  });

  it('rejects an unknown option', () => {
    const res = spawnSync(
      'bash',
      [path.join(repoRoot, 'miner/install.sh'), '--dry-run', '--bogus'],
      { encoding: 'utf8' },
    );
    assert.equal(res.status, 2);
    assert.match(res.stderr, /unknown option --bogus/);
  });
});
