import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CONFIG_DIR } from '../paths';

/** The site's meaning of Big5 user-defined (EUDC) codes, both ways. */
export interface EudcMap {
  /** CP950 code (two bytes as a number, e.g. 0xFA40) → character. */
  readonly toChar: ReadonlyMap<number, string>;
  /** character → CP950 code. */
  readonly toCode: ReadonlyMap<string, number>;
}

const eudcFileSchema = z.object({
  map: z.record(
    z.string().regex(/^[0-9A-Fa-f]{4}$/, 'EUDC keys are 4 hex digits'),
    z.string().refine((s) => [...s].length === 1, 'EUDC values are one character'),
  ),
});

export const DEFAULT_EUDC_MAP_PATH = path.join(CONFIG_DIR, 'eudc-map.json');

export function parseEudcMap(json: unknown, source = 'EUDC map'): EudcMap {
  const parsed = eudcFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`${source} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const toChar = new Map<number, string>();
  const toCode = new Map<string, number>();
  for (const [hex, char] of Object.entries(parsed.data.map)) {
    const code = parseInt(hex, 16);
    toChar.set(code, char);
    toCode.set(char, code);
  }
  return { toChar, toCode };
}

const cache = new Map<string, EudcMap>();

/** Loads (once per path) the EUDC map shipped in config/, or the one given (EUDC_MAP_PATH, through the env). */
export function loadEudcMap(file = DEFAULT_EUDC_MAP_PATH): EudcMap {
  let map = cache.get(file);
  if (!map) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read the EUDC map ${file}: ${(err as Error).message}`);
    }
    map = parseEudcMap(json, file);
    cache.set(file, map);
  }
  return map;
}
