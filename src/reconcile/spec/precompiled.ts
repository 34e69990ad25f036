import type { ValidateFunction } from 'ajv';

// The schema's validator, compiled ahead of time. `npm run build` replaces this module in the bundle with ajv's
// standalone code for schemas/manifestlist.schema.json (made with the options of createAjv), so that no run pays for
// compiling the schema; from source (tests, tsx) there is none and validate.ts compiles it at first use.
export const precompiled: ValidateFunction | undefined = undefined;
