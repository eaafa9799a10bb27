// Where the CPU went during a measurement window, in cores (1.0 = one core
// busy the whole window): this bench process (load generators, in-process
// baselines), the API child processes, the Postgres cluster, and everything
// else on the machine (other people's work: the noise in the numbers).
import { readFileSync, readdirSync } from 'node:fs';

const clockTicksPerSecond = 100; // USER_HZ; 100 on every Linux we run on

type Snapshot = { at: number; bench: number; api: number; postgres: number; machineBusy: number };
export type CpuUse = { wallS: number; bench: number; api: number; postgres: number; other: number; machine: number };

function statFields(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it are plain.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime + stime (and, with children, reaped children's) of one process, in seconds. */
function processSeconds(pid: number, withReapedChildren = false): number {
  const f = statFields(pid);
  if (!f) return 0;
  // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
  let ticks = Number(f[11]) + Number(f[12]);
  if (withReapedChildren) ticks += Number(f[13]) + Number(f[14]);
  return ticks / clockTicksPerSecond;
}

function childrenOf(ppid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (f && Number(f[1]) === ppid) found.push(Number(name));
  }
  return found;
}

function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return (total - idle) / clockTicksPerSecond;
}

export class CpuMeter {
  private start: Snapshot | null = null;

  constructor(
    private readonly apiPids: () => readonly number[],
    private readonly postmasterPid: number | null,
  ) {}

  private snapshot(): Snapshot {
    const own = process.cpuUsage();
    const pg = this.postmasterPid;
    return {
      at: performance.now(),
      bench: (own.user + own.system) / 1e6,
      api: this.apiPids().reduce((sum, pid) => sum + processSeconds(pid), 0),
      // Backends that exited in the window are in the postmaster's cutime.
      postgres: pg ? processSeconds(pg, true) + childrenOf(pg).reduce((s, pid) => s + processSeconds(pid), 0) : 0,
      machineBusy: machineBusySeconds(),
    };
  }

  begin(): void {
    this.start = this.snapshot();
  }

  end(): CpuUse {
    const a = this.start ?? this.snapshot();
    const b = this.snapshot();
    const wallS = (b.at - a.at) / 1000 || 1e-9;
    const cores = (x: number) => Math.max(0, x) / wallS;
    const bench = cores(b.bench - a.bench);
    const api = cores(b.api - a.api);
    const postgres = cores(b.postgres - a.postgres);
    const machine = cores(b.machineBusy - a.machineBusy);
    return { wallS, bench, api, postgres, machine, other: Math.max(0, machine - bench - api - postgres) };
  }
}

export function formatCpu(c: CpuUse): string {
  const f = (x: number) => x.toFixed(2);
  return `cpu cores: bench ${f(c.bench)}, api ${f(c.api)}, postgres ${f(c.postgres)}, other ${f(c.other)} (machine ${f(c.machine)})`;
}
