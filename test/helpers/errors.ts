import { isPlaitError } from '../../src/errors.js';

/** The PlaitError a call throws (code and message), failing the test if it throws nothing or something else. */
export function errOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (!isPlaitError(e)) throw e;
    return { code: e.code, message: e.message };
  }
  throw new Error('expected an error');
}
