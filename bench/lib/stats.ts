// Summaries of counted runs and the formatting the report uses.

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: number[]): Summary {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

export type Unit = 's' | 'ms' | 'MiB' | 'MiB/s' | 'req';

function num(v: number, unit: Unit): string {
  if (!Number.isFinite(v)) return '?';
  switch (unit) {
    case 's':
      return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
    case 'ms':
      return v.toFixed(0);
    case 'MiB':
      return v.toFixed(1);
    case 'MiB/s':
      return v.toFixed(0);
    case 'req':
      return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }
}

/** "1.23 s (1.10–1.40)"; a single run shows only the value. */
export function fmtSummary(s: Summary, unit: Unit): string {
  if (s.n === 0) return '—';
  const u = unit === 'req' ? '' : ` ${unit}`;
  if (s.n === 1 || s.min === s.max) return `${num(s.median, unit)}${u}`;
  return `${num(s.median, unit)}${u} (${num(s.min, unit)}–${num(s.max, unit)})`;
}

export function fmtValue(v: number, unit: Unit): string {
  return `${num(v, unit)}${unit === 'req' ? '' : ` ${unit}`}`;
}

export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return '—';
  return r >= 10 ? `${r.toFixed(0)}×` : r >= 1 ? `${r.toFixed(2)}×` : `${r.toFixed(3)}×`;
}

export const MiB = 1024 * 1024;
