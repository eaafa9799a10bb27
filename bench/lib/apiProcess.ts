// The API as a user runs it: `node --import tsx api/main.ts`, configured by
// environment, in its own process. The bench reads its RSS and CPU from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const benchAdminToken = 'bench-operator-token-0123456789abcdef';
/** Production registers miners by token (MIA_MINER_REGISTRATION=token); the bench's mia-miner sends this. */
export const benchEnrolmentToken = 'bench-enrolment-token-0000';

export type ApiProcess = {
  url: string;
  pid: number;
  child: ChildProcess;
  output: () => string;
  /** Resident memory now and at its peak, from /proc/<pid>/status, in MiB. */
  memory: () => { rssMiB: number; peakMiB: number };
  stop: () => Promise<void>;
};

/** Every API process this bench started and has not yet seen exit; killed if the bench itself dies. */
export const liveApiProcesses = new Set<ChildProcess>();

export async function startApiProcess(databaseUrl: string, env: Record<string, string> = {}): Promise<ApiProcess> {
  const nodeFlags = ['--import', 'tsx'];
  // BENCH_API_CPU_PROF=<dir>: a V8 CPU profile of every API process, written when it exits.
  if (process.env.BENCH_API_CPU_PROF) nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_API_CPU_PROF}`);
  const child = spawn(process.execPath, [...nodeFlags, 'api/main.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: databaseUrl,
      MIA_ADMIN_TOKEN: benchAdminToken,
      MIA_MINER_ENROLMENT_TOKEN: benchEnrolmentToken,
      // info, as an operator runs it: the start line carries the URL, and the access log
      // writes one line per request (its cost is part of what the bench measures).
      MIA_LOG_LEVEL: 'info',
      MIA_VALIDATE_RESPONSES: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 64_000) output = output.slice(-32_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  liveApiProcesses.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      liveApiProcesses.delete(child);
      resolve();
    }),
  );

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`API process did not start within 30 s:\n${output}`)), 30_000);
    const onData = () => {
      const match = /"url":"([^"]+)"[^\n]*"msg":"MIA API listening"/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`API process exited during start:\n${output}`));
    });
  });

  return {
    url,
    pid: child.pid!,
    child,
    output: () => output,
    memory: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
      return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
