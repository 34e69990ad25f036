// Store root resolution: --store, then $PLAIT_STORE, then $XDG_DATA_HOME/plait, then ~/.local/share/plait.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveStoreRoot } from '../../../src/core/store/index.js';

describe('resolveStoreRoot', () => {
  const env = { PLAIT_STORE: '/env/store', XDG_DATA_HOME: '/xdg', HOME: '/home/u' };

  it('takes --store first', () => {
    expect(resolveStoreRoot({ store: '/flag', env })).toBe('/flag');
  });

  it('then $PLAIT_STORE', () => {
    expect(resolveStoreRoot({ env })).toBe('/env/store');
  });

  it('then $XDG_DATA_HOME/plait', () => {
    expect(resolveStoreRoot({ env: { XDG_DATA_HOME: '/xdg', HOME: '/home/u' } })).toBe('/xdg/plait');
  });

  it('then $HOME/.local/share/plait', () => {
    expect(resolveStoreRoot({ env: { HOME: '/home/u' } })).toBe('/home/u/.local/share/plait');
  });

  it('falls back to the OS home directory without $HOME', () => {
    expect(resolveStoreRoot({ env: {} })).toBe(join(homedir(), '.local', 'share', 'plait'));
  });

  it('treats empty variables as unset and ignores a relative XDG_DATA_HOME (XDG spec)', () => {
    expect(resolveStoreRoot({ store: '', env: { PLAIT_STORE: '', XDG_DATA_HOME: '', HOME: '/h' } })).toBe(
      '/h/.local/share/plait',
    );
    expect(resolveStoreRoot({ env: { XDG_DATA_HOME: 'rel', HOME: '/h' } })).toBe('/h/.local/share/plait');
  });

  it('makes relative --store and $PLAIT_STORE absolute', () => {
    expect(resolveStoreRoot({ store: 'rel/dir', env })).toBe(resolve('rel/dir'));
    expect(resolveStoreRoot({ env: { PLAIT_STORE: 'r' } })).toBe(resolve('r'));
  });
});
