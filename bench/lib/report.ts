// The printed table and the JSON written to bench/results/.
import type { Row, ScenarioReport } from './scenario.ts';
import { formatCpu } from './cpu.ts';

export type ScenarioResult = { id: string; title: string; seconds: number; error?: string } & ScenarioReport;

export function formatNumber(value: number | null, unit: string): string {
  if (value === null || Number.isNaN(value)) return 'n/a';
  if (unit === 'ms') return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(2);
}

function ratioText(row: Row): string {
  if (!row.baseline || row.value === null || !row.baseline.value) return '';
  return `${(row.value / row.baseline.value).toFixed(2)}×`;
}

export function renderTable(results: readonly ScenarioResult[], quick: boolean): string {
  const header = ['scenario', 'measure', 'value', 'baseline (same run, same database)', 'ours ÷ baseline', 'SPEC §6 target', quick ? '' : 'met'];
  const lines: string[][] = [];
  for (const r of results) {
    if (r.skipped || r.error) {
      lines.push([r.id, r.skipped ? `SKIPPED: ${r.skipped}` : `FAILED: ${r.error}`, '', '', '', '', '']);
      continue;
    }
    for (const row of r.rows) {
      lines.push([
        r.id,
        row.measure,
        `${formatNumber(row.value, row.unit)} ${row.unit}`,
        row.baseline ? `${row.baseline.name}: ${formatNumber(row.baseline.value, row.unit)} ${row.unit}` : '',
        ratioText(row),
        row.target ?? '',
        quick || row.met === undefined ? '' : row.met ? 'yes' : 'NO',
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd();
  const out = [fmt(header), widths.map((w) => '-'.repeat(w)).join('-|-')];
  let last = '';
  for (const l of lines) {
    out.push(fmt(l[0] === last ? ['', ...l.slice(1)] : l));
    last = l[0]!;
  }
  return out.join('\n');
}

export function renderMarkdown(results: readonly ScenarioResult[]): string {
  const out = ['| scenario | measure | value | baseline (same run) | ours ÷ baseline | target | met |', '| --- | --- | --- | --- | --- | --- | --- |'];
  for (const r of results) {
    if (r.skipped || r.error) {
      out.push(`| ${r.id} | ${r.skipped ? `skipped: ${r.skipped}` : `failed: ${r.error}`} | | | | | |`);
      continue;
    }
    for (const row of r.rows) {
      out.push(
        `| ${r.id} | ${row.measure} | ${formatNumber(row.value, row.unit)} ${row.unit} | ${
          row.baseline ? `${row.baseline.name}: ${formatNumber(row.baseline.value, row.unit)} ${row.unit}` : ''
        } | ${ratioText(row)} | ${row.target ?? ''} | ${row.met === undefined ? '' : row.met ? 'yes' : 'no'} |`,
      );
    }
  }
  return out.join('\n');
}

export function renderNotes(results: readonly ScenarioResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    const cpu = Object.entries(r.cpu).map(([phase, c]) => `    ${phase}: ${formatCpu(c)}`);
    if (r.notes.length === 0 && cpu.length === 0) continue;
    out.push(`${r.id} — ${r.title} (${r.seconds.toFixed(1)} s)`);
    for (const note of r.notes) out.push(`  - ${note}`);
    out.push(...cpu);
  }
  return out.join('\n');
}
