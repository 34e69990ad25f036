import { createHash } from 'node:crypto';
import { BODY_FAULTS, startFaultProxy } from '../lab/corrupting-proxy.js';
import type { Fault, FaultKind } from '../lab/corrupting-proxy.js';

// The torture proxy: the lab's fault proxy with faults chosen by seed, turning some requests into the faults a real
// network and a real registry produce. A request's fate is a hash of (seed, method, path, how many times that same
// request was seen in this run), so a seed names the same faults whatever order concurrent requests arrive in.

/** What the seed picks from; token-expired is a 401 with error="invalid_token", as distribution answers a stale token. */
export const FAULT_KINDS = [
  'status-500', 'status-502', 'status-503', 'rate-limit', 'reset-mid-body', 'stall', 'truncate',
  'length-short', 'length-long', 'corrupt', 'token-expired',
] as const;
export type TortureFault = typeof FAULT_KINDS[number];

export interface TortureProxy {
  host: string;
  url: string;
  /** Faults on or off (a clean re-run goes through the same proxy with faults off). */
  enabled: boolean;
  seed: number;
  /** Chance in [0,1] that one request gets a fault. */
  rate: number;
  injected: Record<string, number>;
  requests: number;
  /** Start a run: its seed and rate, and a fresh count of repeated requests, so a seed names the same faults whatever ran before. */
  reset(seed: number, rate: number): void;
  close(): Promise<void>;
}

/** mulberry32 over a 32-bit hash: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash32(s: string): number {
  return createHash('sha256').update(s).digest().readUInt32BE(0);
}

function toFault(k: TortureFault, challenge: string): Fault {
  switch (k) {
    case 'status-500': return { kind: 'status', status: 500 };
    case 'status-502': return { kind: 'status', status: 502 };
    case 'status-503': return { kind: 'status', status: 503 };
    case 'rate-limit': return { kind: 'status', status: 429, headers: { 'retry-after': '1' } };
    case 'token-expired': return { kind: 'status', status: 401, headers: { 'www-authenticate': `${challenge},error="invalid_token"` } };
    default: return { kind: k };
  }
}

export async function startTortureProxy(targetHost: string, opts: { seed: number; rate: number; challenge: string }): Promise<TortureProxy> {
  const counts = new Map<string, number>();

  const pick = (method: string, path: string, hasBearer: boolean): TortureFault | undefined => {
    if (!tp.enabled) return undefined;
    const key = `${method} ${path}`;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    const r = rng(hash32(`${tp.seed}\u0000${key}\u0000${n}`));
    if (r() >= tp.rate) return undefined;
    let kinds = FAULT_KINDS.filter((k) => k !== 'token-expired' || hasBearer);
    // Only a GET's body can be damaged.
    if (method !== 'GET') kinds = kinds.filter((k) => !BODY_FAULTS.has(k as FaultKind));
    return kinds[Math.floor(r() * kinds.length)];
  };

  const proxy = await startFaultProxy(targetHost, (method, path, headers) => {
    tp.requests++;
    const k = pick(method, path, (headers.authorization ?? '').startsWith('Bearer '));
    if (!k) return undefined;
    tp.injected[k] = (tp.injected[k] ?? 0) + 1;
    return toFault(k, opts.challenge);
  });
  const tp: TortureProxy = {
    host: proxy.host,
    url: proxy.url,
    enabled: false,
    seed: opts.seed,
    rate: opts.rate,
    injected: {},
    requests: 0,
    reset: (seed: number, rate: number) => {
      tp.seed = seed;
      tp.rate = rate;
      counts.clear();
      proxy.seen.length = 0;
    },
    close: () => proxy.close(),
  };
  return tp;
}
