// `mia-miner doctor`: everything `run` needs, checked in the order an operator would
// fix it, each failure with the command or setting that fixes it. Exit 1 on any FAIL.
import { execFile } from 'node:child_process';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { BackendClient } from './backend/backendClient.ts';
import type { MinerConfig } from './config.ts';
import type { CommandRunner } from './gpu.ts';
import { detectGpus } from './gpu.ts';
import { readIdentity, stateFilePath } from './backend/identity.ts';
import { llamaHealth } from './process/healthProbe.ts';
import { errorMessage } from './lib/log.ts';

export type CheckLevel = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  level: CheckLevel;
  detail: string;
  fix?: string;
}

/** Resolves a bare command name through PATH, like the shell does. */
async function resolveBinary(binary: string): Promise<string | undefined> {
  const candidates = binary.includes('/')
    ? [binary]
    : (process.env.PATH ?? '')
        .split(':')
        .filter(Boolean)
        .map((dir) => path.join(dir, binary));
  for (const candidate of candidates) {
    try {
      await fs.access(candidate, constants.X_OK);
      if ((await fs.stat(candidate)).isFile()) return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

function versionOf(binary: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      binary,
      ['--version'],
      { timeout: 15_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const text = `${stdout}\n${stderr}`;
        const line = text
          .split('\n')
          .find((l) => /version|build/i.test(l))
          ?.trim();
        resolve(
          line ?? (error ? `--version failed: ${error.message.split('\n')[0]}` : 'version unknown'),
        );
      },
    );
  });
}

/** The oldest Node the miner runs on (package.json engines). */
const minNodeMajor = 24;

/** Node itself: the miner uses Node 24 APIs (and tsx strips its types on them). */
export function checkNode(version: string = process.versions.node): Check {
  const major = Number(version.split('.')[0]);
  if (major >= minNodeMajor) return { name: 'node', level: 'ok', detail: `Node ${version}` };
  return {
    name: 'node',
    level: 'fail',
    detail: `Node ${version}; mia-miner needs Node ${minNodeMajor} or newer`,
    fix: `install Node ${minNodeMajor} (https://nodejs.org, or your distribution's nodejs ${minNodeMajor} package) and run doctor again`,
  };
}

async function checkGpu(runner?: CommandRunner): Promise<Check> {
  const detection = await detectGpus(runner);
  if (detection.kind === 'cpu') {
    return {
      name: 'GPU',
      level: 'warn',
      detail: `none (${detection.reason}); llama-server will run on the CPU, far slower`,
      fix: 'install the NVIDIA driver (ubuntu-drivers install), reboot, and check `nvidia-smi` lists the GPU',
    };
  }
  const list = detection.gpus
    .map(
      (g) =>
        `#${g.index} ${g.name} ${g.memory_mb} MiB (driver ${g.driver_version}, compute ${g.compute_capability})`,
    )
    .join('; ');
  return { name: 'GPU', level: 'ok', detail: list };
}

async function checkBinary(config: MinerConfig): Promise<Check> {
  if (config.llamaUrl) {
    const status = await llamaHealth(config.llamaUrl.replace(/\/+$/, ''));
    return status === 200
      ? {
          name: 'llama-server',
          level: 'ok',
          detail: `attached to ${config.llamaUrl} (/health 200)`,
        }
      : {
          name: 'llama-server',
          level: 'fail',
          detail: `${config.llamaUrl}/health answered ${status === 0 ? 'nothing (not reachable)' : status}`,
          fix: 'start that llama-server (503 means it is still loading; wait), or drop --llama-url to let the miner run one',
        };
  }
  const resolved = await resolveBinary(config.llamaServer);
  if (!resolved) {
    return {
      name: 'llama-server',
      level: 'fail',
      detail: `${config.llamaServer} not found or not executable`,
      fix: 'build it with `miner/install.sh` (CUDA llama.cpp), or point --llama-server / MIA_LLAMA_SERVER at the binary',
    };
  }
  return {
    name: 'llama-server',
    level: 'ok',
    detail: `${resolved} (${await versionOf(resolved)})`,
  };
}

async function checkModel(config: MinerConfig): Promise<Check> {
  if (config.llamaUrl && !config.model) {
    return { name: 'model', level: 'ok', detail: 'loaded by the attached llama-server' };
  }
  if (!config.model) {
    return {
      name: 'model',
      level: 'fail',
      detail: 'no model configured',
      fix: 'set --model /path/to/model.gguf or MIA_MODEL (miner/install.sh downloads Qwen2.5-7B-Instruct Q4_K_M)',
    };
  }
  try {
    const handle = await fs.open(config.model, 'r');
    try {
      const { size } = await handle.stat();
      const magic = Buffer.alloc(4);
      await handle.read(magic, 0, 4, 0);
      if (magic.toString('latin1') !== 'GGUF') {
        return {
          name: 'model',
          level: 'fail',
          detail: `${config.model} is not a GGUF file`,
          fix: 'download a .gguf model (llama-server loads nothing else); a partial download also fails this check',
        };
      }
      return {
        name: 'model',
        level: 'ok',
        detail: `${config.model} (${(size / 2 ** 20).toFixed(0)} MiB GGUF)`,
      };
    } finally {
      await handle.close();
    }
  } catch (error) {
    return {
      name: 'model',
      level: 'fail',
      detail: `${config.model}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`,
      fix: 'fix the path in --model / MIA_MODEL, or download it again (miner/install.sh)',
    };
  }
}

async function checkBackend(config: MinerConfig): Promise<Check> {
  const fix =
    'check --backend-url / MIA_BACKEND_URL, the network path to it, and that the MIA API is running';
  try {
    const { status, body } = await new BackendClient({ baseUrl: config.backendUrl }).health();
    const state = (body as { status?: string } | undefined)?.status;
    if (status === 200)
      return { name: 'backend', level: 'ok', detail: `${config.backendUrl} healthy` };
    return {
      name: 'backend',
      level: 'fail',
      detail: `${config.backendUrl}/health answered ${status}${state ? ` (${state})` : ''}`,
      fix: 'the API is up but unhealthy (database unreachable?); ask the backend operator',
    };
  } catch (error) {
    return {
      name: 'backend',
      level: 'fail',
      detail: `${config.backendUrl} unreachable: ${errorMessage(error)}`,
      fix,
    };
  }
}

async function checkState(config: MinerConfig): Promise<Check> {
  const file = stateFilePath(config.stateDir);
  try {
    const identity = await readIdentity(config.stateDir);
    if (!identity)
      return {
        name: 'identity',
        level: 'ok',
        detail: `none yet; the first run registers and writes ${file}`,
      };
    const mode = (await fs.stat(file)).mode & 0o777;
    if (mode & 0o077) {
      return {
        name: 'identity',
        level: 'warn',
        detail: `${file} is readable by others (mode ${mode.toString(8)}); it holds the miner's key`,
        fix: `chmod 600 ${file}`,
      };
    }
    return {
      name: 'identity',
      level: 'ok',
      detail: `miner ${identity.miner_id} ("${identity.name}") in ${file}`,
    };
  } catch (error) {
    return {
      name: 'identity',
      level: 'fail',
      detail: errorMessage(error),
      fix: `move ${file} away to register anew`,
    };
  }
}

export async function runDoctor(
  config: MinerConfig,
  options: { runner?: CommandRunner; print?: (line: string) => void } = {},
): Promise<{ checks: Check[]; ok: boolean }> {
  const print = options.print ?? ((line: string) => process.stdout.write(line + '\n'));
  const checks = await Promise.all([
    checkNode(),
    checkGpu(options.runner),
    checkBinary(config),
    checkModel(config),
    checkBackend(config),
    checkState(config),
  ]);
  const tag: Record<CheckLevel, string> = { ok: '[ ok ]', warn: '[warn]', fail: '[FAIL]' };
  print('mia-miner doctor');
  for (const check of checks) {
    print(`${tag[check.level]} ${check.name.padEnd(12)} ${check.detail}`);
    if (check.fix && check.level !== 'ok') print(`       ${''.padEnd(12)} fix: ${check.fix}`);
  }
  const failed = checks.filter((c) => c.level === 'fail').length;
  print(
    failed === 0
      ? 'all checks passed; start with `mia-miner run`'
      : `${failed} check(s) failed; fix them and run doctor again`,
  );
  return { checks, ok: failed === 0 };
}
