// A miner killed with SIGKILL cannot stop its llama-server, which lives in its own
// process group and keeps the GPU memory. The pid file lets the next run find and
// end that orphan before it starts a new server that would not fit beside it.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../lib/log.ts';

export async function writePidFile(file: string, pid: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await fs.writeFile(file, `${pid}\n`, { mode: 0o600 });
}

export async function removePidFile(file: string): Promise<void> {
  await fs.rm(file, { force: true });
}

/** Kills the process group of a llama-server left by a previous run; true if there was one. */
export async function killStaleLlama(
  file: string,
  binary: string,
  logger: Logger,
): Promise<boolean> {
  let pid: number;
  try {
    pid = Number.parseInt(await fs.readFile(file, 'utf8'), 10);
  } catch {
    return false;
  }
  await removePidFile(file);
  if (!Number.isInteger(pid) || pid <= 1) return false;
  let cmdline: string;
  try {
    cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
  } catch {
    return false; // gone already (or no /proc: nothing safe to do)
  }
  // The pid may have been reused by an unrelated process since: only kill our binary.
  if (!cmdline.includes(path.basename(binary))) return false;
  logger.warn('killing a llama-server left behind by a previous run', { pid });
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return false;
    }
  }
  for (let i = 0; i < 50; i += 1) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}
