import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { detectGpus, gpuSummary, NVIDIA_SMI_ARGS, parseNvidiaSmiCsv } from '../../miner/gpu.ts';
import { fixturesDir } from './helpers.ts';

// nvidia-smi-query.txt holds three recorded queries separated by "---".
const sections = readFileSync(
  path.join(fixturesDir, 'nvidia-smi/nvidia-smi-query.txt'),
  'utf8',
).split(/^---$/m);
const h200 = {
  index: 0,
  name: 'NVIDIA H200',
  memory_mb: 143771,
  uuid: 'GPU-633237b7-fbcf-3c68-67c2-e53cc687e384',
  driver_version: '580.159.04',
  compute_capability: '9.0',
};

describe('GPU detection (nvidia-smi)', () => {
  it('asks nvidia-smi for index, name, memory, uuid, driver and compute capability as bare CSV', () => {
    assert.deepEqual(NVIDIA_SMI_ARGS, [
      '--query-gpu=index,name,memory.total,uuid,driver_version,compute_cap',
      '--format=csv,noheader,nounits',
    ]);
  });

  it('parses the recorded H200 line of the miner query (noheader, nounits)', () => {
    // The recorded wide query: index, name, uuid, pci.bus_id, memory.total, memory.used,
    // memory.free, driver_version, compute_cap, power.limit, temperature.gpu, utilization.gpu.
    const recorded = sections[0]!.trim();
    const fields = [
      'index',
      'name',
      'uuid',
      'pci.bus_id',
      'memory.total',
      'memory.used',
      'memory.free',
      'driver_version',
      'compute_cap',
      'power.limit',
      'temperature.gpu',
      'utilization.gpu',
    ];
    assert.deepEqual(parseNvidiaSmiCsv(recorded, fields), [h200]);
    // The same values in the order the miner asks for.
    const v = recorded.split(', ');
    const minerLine = [v[0], v[1], v[4], v[2], v[7], v[8]].join(', ');
    assert.deepEqual(parseNvidiaSmiCsv(minerLine + '\n'), [h200]);
  });

  it('parses the recorded CSV with a header and units by column name', () => {
    const parsed = parseNvidiaSmiCsv(sections[1]!);
    assert.deepEqual(parsed, [{ ...h200, uuid: '' }]);
  });

  it('reads several GPUs and tolerates [N/A] cells', () => {
    const text =
      '0, NVIDIA GeForce RTX 4090, 24564, GPU-a, 550.54, 8.9\n1, NVIDIA GeForce RTX 4090, [N/A], GPU-b, 550.54, 8.9\n';
    const gpus = parseNvidiaSmiCsv(text);
    assert.equal(gpus.length, 2);
    assert.equal(gpus[1]!.memory_mb, 0);
    assert.deepEqual(gpuSummary({ kind: 'gpu', gpus }), {
      gpu_name: '2x NVIDIA GeForce RTX 4090',
      gpu_memory_mb: 24564,
      gpus,
    });
  });

  it('falls back to CPU with the reason when nvidia-smi is missing', async () => {
    const missing = await detectGpus(() =>
      Promise.reject(Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' })),
    );
    assert.equal(missing.kind, 'cpu');
    assert.match(missing.kind === 'cpu' ? missing.reason : '', /not found/);
  });

  it('falls back to CPU when the driver does not answer', async () => {
    const failing = await detectGpus(() =>
      Promise.reject(
        Object.assign(new Error('Command failed'), {
          code: 9,
          detail: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
        }),
      ),
    );
    assert.equal(failing.kind, 'cpu');
    assert.match(failing.kind === 'cpu' ? failing.reason : '', /couldn't communicate/);
  });

  it('reports the GPUs nvidia-smi lists', async () => {
    const found = await detectGpus(async (file, args) => {
      assert.deepEqual(args, NVIDIA_SMI_ARGS);
      return {
        stdout:
          '0, NVIDIA H200, 143771, GPU-633237b7-fbcf-3c68-67c2-e53cc687e384, 580.159.04, 9.0\n',
      };
    });
    assert.deepEqual(found, { kind: 'gpu', gpus: [h200] });
  });
});
