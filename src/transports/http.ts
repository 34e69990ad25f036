import type { Agent as UndiciAgent, Dispatcher } from 'undici';
import UndiciAgentClass from 'undici/lib/dispatcher/agent.js';
import apiRequest from 'undici/lib/api/api-request.js';
import { setV8Flags, WASM_BASELINE_ONLY } from '../v8-flags.js';

// The two parts of undici plait uses: its connection-pooling Agent and the request API. undici's index module loads
// all of undici (fetch, WebSocket, EventSource, caches, mocks: some 60 modules); importing it cost 0.2–0.4 s of every
// registry command's start-up here, more than the work of a no-op reconcile. These are the same classes and the same
// function the index would hand out (it mixes this request into Dispatcher.prototype), loaded on their own. The
// paths are undici 7's layout (package.json pins major 7; the http unit test fails if they move). The bundle
// (.ci/bundle.ts) carries these modules and the ones they require inside plait's chunk: one file to read and
// compile instead of some 26 resolutions, reads and compilations at every registry command's start.

// undici parses HTTP with a WebAssembly build of llhttp, compiled on its first connection; letting V8's optimising
// tier compile it costs ~20–35 MiB of resident memory and, on Node 24, ~45 ms of a no-op reconcile's wall (its
// background compile of the parser) for no measurable gain on a registry's short responses, so the baseline compiler
// does it alone. Set here, where undici is loaded, so that a command that never talks HTTP (validate, a run on OCI
// layouts only) does not load node:v8 (and the stream modules it pulls in) for it.
setV8Flags(WASM_BASELINE_ONLY);

export const Agent = UndiciAgentClass;
export type Agent = UndiciAgent;

type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & {
  method?: Dispatcher.HttpMethod;
  dispatcher?: Dispatcher;
};

// undici's request() falls back to its global dispatcher; this module keeps its own, made on first use.
let fallback: Dispatcher | undefined;

/** undici's request(url, options): the URL gives origin and path; the method defaults as undici's does. */
export function request(url: string | URL, opts: RequestOptions = {}): Promise<Dispatcher.ResponseData> {
  const u = typeof url === 'string' ? new URL(url) : url;
  const { dispatcher, ...rest } = opts;
  const d = dispatcher ?? (fallback ??= new Agent());
  return apiRequest.call(d, { ...rest, origin: u.origin, path: `${u.pathname}${u.search}`, method: opts.method ?? (opts.body ? 'PUT' : 'GET') });
}
