// Go's time.ParseDuration grammar, in integer nanoseconds, with Go's error cases.

import { describe, expect, it } from 'vitest';
import { isPlaitError } from '../../../src/errors.js';
import { formatDuration, parseDuration, parseDurationNanos } from '../../../src/reconcile/spec/duration.js';

describe('parseDuration', () => {
  it.each([
    ['0', 0n],
    ['+0', 0n],
    ['-0', 0n],
    ['5s', 5_000_000_000n],
    ['30s', 30_000_000_000n],
    ['1478s', 1_478_000_000_000n],
    ['-5s', -5_000_000_000n],
    ['+5s', 5_000_000_000n],
    ['-0s', 0n],
    ['5.0s', 5_000_000_000n],
    ['5.6s', 5_600_000_000n],
    ['5.s', 5_000_000_000n],
    ['.5s', 500_000_000n],
    ['1.0s', 1_000_000_000n],
    ['1.00s', 1_000_000_000n],
    ['1.004s', 1_004_000_000n],
    ['1.0040s', 1_004_000_000n],
    ['100.00100s', 100_001_000_000n],
    ['10ns', 10n],
    ['11us', 11_000n],
    ['12µs', 12_000n],
    ['12μs', 12_000n],
    ['13ms', 13_000_000n],
    ['14s', 14_000_000_000n],
    ['15m', 900_000_000_000n],
    ['16h', 57_600_000_000_000n],
    ['3h30m', 12_600_000_000_000n],
    ['1h30m', 5_400_000_000_000n],
    ['10.5s4m', 250_500_000_000n],
    ['-2m3.4s', -123_400_000_000n],
    ['1h2m3s4ms5us6ns', 3_723_004_005_006n],
    ['39h9m14.425s', 140_954_425_000_000n],
    ['52763797000ns', 52_763_797_000n],
    ['0.3333333333333333333h', 1_200_000_000_000n],
    ['9007199254740993ns', 9_007_199_254_740_993n],
    ['9223372036854775807ns', 9_223_372_036_854_775_807n],
    ['9223372036854775.807us', 9_223_372_036_854_775_807n],
    ['9223372036s854ms775us807ns', 9_223_372_036_854_775_807n],
    ['-9223372036854775808ns', -9_223_372_036_854_775_808n],
    ['-9223372036854775.808us', -9_223_372_036_854_775_808n],
    ['0.100000000000000000000h', 360_000_000_000n],
    ['0.830103483285477580700h', 2_988_372_539_827n],
  ])('%s = %sns', (input, ns) => {
    expect(parseDurationNanos(input)).toBe(ns);
  });

  it.each(['', '3', '-', 's', '.', '-.', '.s', '+.s', '1d', '1.5x', '\x85\x85', '\xffff', 'hello \xffworld', '10 m', 'm10', '1h-30m', '9223372036854775808ns', '-9223372036854775809ns', '3000000h', '9223372036854775.808us', '9223372036854ms775us808ns'])(
    'refuses %j',
    (input) => {
      let error: unknown;
      try {
        parseDurationNanos(input);
      } catch (e) {
        error = e;
      }
      expect(isPlaitError(error), `${JSON.stringify(input)} should not parse`).toBe(true);
    },
  );

  it('returns milliseconds', () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('45s')).toBe(45_000);
    expect(parseDuration('1.5ms')).toBe(1.5);
    expect(parseDuration('250us')).toBe(0.25);
  });

  it('names the problem', () => {
    expect(() => parseDurationNanos('10')).toThrow('invalid duration "10": missing unit (ns, us, ms, s, m or h)');
    expect(() => parseDurationNanos('10d')).toThrow('invalid duration "10d": unknown unit "d" (ns, us, ms, s, m or h)');
    expect(() => parseDurationNanos('1e3s')).toThrow('unknown unit "e"');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [1.5, '1.5ms'],
    [0.0015, '1.5µs'],
    [0.000001, '1ns'],
    [45_000, '45s'],
    [1_500, '1.5s'],
    [600_000, '10m0s'],
    [5_400_000, '1h30m0s'],
    [-90_000, '-1m30s'],
  ])('%s ms = %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
  });
});
