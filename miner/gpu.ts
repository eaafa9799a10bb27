// GPU detection through nvidia-smi's CSV query. The field list below is the single
// source for both the query and the parser, so they cannot drift apart.
import { execFile } from 'node:child_process';

export const GPU_QUERY_FIELDS = [
  'index',
  'name',
  'memory.total',
  'uuid',
  'driver_version',
  'compute_cap',
] as const;

export const NVIDIA_SMI_ARGS = [
  `--query-gpu=${GPU_QUERY_FIELDS.join(',')}`,
  '--format=csv,noheader,nounits',
];

/** One GPU as `POST /register_miner` takes it (`gpus[]`). */
export interface GpuInfo {
  index: number;
  name: string;
  memory_mb: number;
  uuid: string;
  driver_version: string;
  compute_capability: string;
}

export type GpuDetection = { kind: 'gpu'; gpus: GpuInfo[] } | { kind: 'cpu'; reason: string };

function cell(value: string | undefined): string | undefined {
  const v = value?.trim();
  // nvidia-smi writes "[N/A]" or "[Not Supported]" for values a board does not report.
  if (v === undefined || v === '' || /^\[.*\]$/.test(v)) return undefined;
  return v;
}

function headerName(column: string): string {
  // With a header, units sit in brackets: "memory.total [MiB]".
  return column.replace(/\s*\[.*\]\s*$/, '').trim();
}

/**
 * Parses `nvidia-smi --query-gpu=<fields> --format=csv[,noheader][,nounits]`.
 * `fields` is the list the query asked for; a header line, when present, takes
 * precedence so the parser also reads output of a query with another order.
 * Units ("143771 MiB") are tolerated.
 */
export function parseNvidiaSmiCsv(
  text: string,
  fields: readonly string[] = GPU_QUERY_FIELDS,
): GpuInfo[] {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  let columns = [...fields];
  const first = lines[0];
  if (
    first !== undefined &&
    first.split(',').some((c) => ['name', 'index', 'uuid'].includes(headerName(c)))
  ) {
    columns = first.split(',').map(headerName);
    lines.shift();
  }
  const gpus: GpuInfo[] = [];
  for (const [i, line] of lines.entries()) {
    const values = line.split(/,\s*/);
    const get = (field: string) => cell(values[columns.indexOf(field)]);
    const name = get('name');
    if (name === undefined) continue;
    const index = Number.parseInt(get('index') ?? String(i), 10);
    const memory = Number.parseInt(get('memory.total') ?? '', 10);
    gpus.push({
      index: Number.isFinite(index) ? index : i,
      name,
      memory_mb: Number.isFinite(memory) ? memory : 0,
      uuid: get('uuid') ?? '',
      driver_version: get('driver_version') ?? '',
      compute_capability: get('compute_cap') ?? '',
    });
  }
  return gpus;
}

export type CommandRunner = (file: string, args: string[]) => Promise<{ stdout: string }>;

const execRunner: CommandRunner = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 15_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        const detail = (stderr || stdout || '').trim().split('\n')[0];
        reject(Object.assign(error, { detail }));
      } else resolve({ stdout });
    });
  });

/** Never throws: a box without a working NVIDIA driver is reported as CPU with the reason. */
export async function detectGpus(
  run: CommandRunner = execRunner,
  binary = process.env.MIA_NVIDIA_SMI ?? 'nvidia-smi',
): Promise<GpuDetection> {
  try {
    const { stdout } = await run(binary, NVIDIA_SMI_ARGS);
    const gpus = parseNvidiaSmiCsv(stdout);
    if (gpus.length === 0) return { kind: 'cpu', reason: 'nvidia-smi lists no GPU' };
    return { kind: 'gpu', gpus };
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { detail?: string };
    if (err.code === 'ENOENT')
      return { kind: 'cpu', reason: `${binary} not found (no NVIDIA driver installed)` };
    return { kind: 'cpu', reason: `${binary} failed: ${err.detail || err.message}` };
  }
}

/** The registration's summary fields: the first GPU's name, and the memory of all GPUs. */
export function gpuSummary(detection: GpuDetection): {
  gpu_name?: string;
  gpu_memory_mb?: number;
  gpus?: GpuInfo[];
} {
  if (detection.kind === 'cpu') return { gpu_name: 'CPU', gpus: [] };
  const [first] = detection.gpus;
  const names = new Set(detection.gpus.map((g) => g.name));
  return {
    gpu_name:
      detection.gpus.length > 1 && names.size === 1
        ? `${detection.gpus.length}x ${first?.name}`
        : first?.name,
    gpu_memory_mb: detection.gpus.reduce((sum, g) => sum + g.memory_mb, 0),
    gpus: detection.gpus,
  };
}
