import { ErrorCodes, PlaitError } from '../../errors.js';

// Go's time.ParseDuration grammar, because Kubernetes users write intervals that way (Flux's `interval: 10m`):
// an optional sign, then one or more decimal numbers, each with an optional fraction and a unit (ns, us, µs, μs,
// ms, s, m, h): 300ms, -1.5h, 2h45m, .5s. A lone "0" needs no unit. Arithmetic is done in integer nanoseconds, as
// Go does, so overflow beyond int64 (about 292 years) is reported rather than rounded.

const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['µs', 1_000n], // U+00B5 micro sign
  ['μs', 1_000n], // U+03BC Greek small letter mu
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const MAX_NS = (1n << 63n) - 1n;
const MIN_NS = -(1n << 63n);

function fail(input: string, reason: string): never {
  throw new PlaitError(ErrorCodes.E_INVALID, `invalid duration ${JSON.stringify(input)}: ${reason}`, { details: { duration: input } });
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** Parse a Go duration into integer nanoseconds. */
export function parseDurationNanos(input: string): bigint {
  if (typeof input !== 'string') fail(String(input), 'not a string');
  let s = input;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s.startsWith('-');
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') fail(input, 'empty');
  let total = 0n;
  while (s !== '') {
    if (!(s.startsWith('.') || isDigit(s[0]))) fail(input, `expected a number at ${JSON.stringify(s)}`);
    // The integer part: exact, and an error once it cannot be a duration any more.
    let i = 0;
    let whole = 0n;
    while (isDigit(s[i])) {
      whole = whole * 10n + BigInt(s.charCodeAt(i) - 48);
      if (whole > 1n << 63n) fail(input, 'out of range');
      i++;
    }
    const hasWhole = i > 0;
    // The fraction: digits beyond what int64 can hold are read and dropped, as Go's leadingFraction does.
    let fraction = 0n;
    let scale = 1;
    let hasFraction = false;
    if (s[i] === '.') {
      i++;
      let overflowed = false;
      const start = i;
      while (isDigit(s[i])) {
        if (!overflowed) {
          const next = fraction * 10n + BigInt(s.charCodeAt(i) - 48);
          if (fraction > MAX_NS / 10n || next > 1n << 63n) overflowed = true;
          else {
            fraction = next;
            scale *= 10;
          }
        }
        i++;
      }
      hasFraction = i > start;
    }
    if (!hasWhole && !hasFraction) fail(input, 'a "." needs digits');
    let j = i;
    while (j < s.length && s[j] !== '.' && !isDigit(s[j])) j++;
    const unitName = s.slice(i, j);
    if (unitName === '') fail(input, 'missing unit (ns, us, ms, s, m or h)');
    const unit = UNITS.get(unitName);
    if (unit === undefined) fail(input, `unknown unit ${JSON.stringify(unitName)} (ns, us, ms, s, m or h)`);
    if (whole > (1n << 63n) / unit) fail(input, 'out of range');
    let value = whole * unit;
    if (fraction > 0n) {
      // float64(f) * (float64(unit) / scale), truncated: the same rounding as Go.
      value += BigInt(Math.trunc(Number(fraction) * (Number(unit) / scale)));
      if (value > 1n << 63n) fail(input, 'out of range');
    }
    total += value;
    if (total > 1n << 63n) fail(input, 'out of range');
    s = s.slice(j);
  }
  if (negative) return -total < MIN_NS ? fail(input, 'out of range') : -total;
  if (total > MAX_NS) fail(input, 'out of range');
  return total;
}

/** Parse a Go duration (`10m`, `1h30m`, `45s`, `1.5h`, `300ms`) into milliseconds (fractional below 1ms). */
export function parseDuration(input: string): number {
  return Number(parseDurationNanos(input)) / 1e6;
}

/** A duration in Go's String() form: 1h30m0s, 45s, 1.5s, 300ms, 0s. */
export function formatDuration(ms: number): string {
  const ns = BigInt(Math.round(ms * 1e6));
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  let u = ns < 0n ? -ns : ns;
  if (u < 1_000_000_000n) {
    const [unit, size] = u < 1_000n ? ['ns', 1n] : u < 1_000_000n ? ['µs', 1_000n] : ['ms', 1_000_000n];
    return `${sign}${fractional(u, size)}${unit}`;
  }
  const h = u / 3_600_000_000_000n;
  u %= 3_600_000_000_000n;
  const m = u / 60_000_000_000n;
  u %= 60_000_000_000n;
  const sec = fractional(u, 1_000_000_000n);
  if (h > 0n) return `${sign}${h}h${m}m${sec}s`;
  if (m > 0n) return `${sign}${m}m${sec}s`;
  return `${sign}${sec}s`;
}

function fractional(v: bigint, size: bigint): string {
  const whole = v / size;
  const rest = v % size;
  if (rest === 0n) return String(whole);
  const digits = String(size).length - 1;
  return `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`;
}
