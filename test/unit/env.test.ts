import { ConfigError, loadEnv } from '../../src/config/env';

/** Runtime settings are validated once, at start: a bad value is named, not guessed around. */

const base = { DATABASE_URL: 'postgresql://u@127.0.0.1:5432/db', REDIS_URL: 'redis://127.0.0.1:6379', TEMPORAL_ADDRESS: '127.0.0.1:7233' };

describe('LOAD_THREADS', () => {
  it('is 2 unless set, and takes 0 (pages prepared on the loading thread)', () => {
    expect(loadEnv(base).LOAD_THREADS).toBe(2);
    expect(loadEnv({ ...base, LOAD_THREADS: '0' }).LOAD_THREADS).toBe(0);
    expect(loadEnv({ ...base, LOAD_THREADS: '4' }).LOAD_THREADS).toBe(4);
  });

  it.each(['two', '-1', '1.5', '17'])('refuses %s, naming the variable', (value) => {
    expect(() => loadEnv({ ...base, LOAD_THREADS: value })).toThrow(ConfigError);
    expect(() => loadEnv({ ...base, LOAD_THREADS: value })).toThrow(/LOAD_THREADS: /);
  });
});

describe('HEAP_GROWING_PERCENT', () => {
  it('is 25 unless set', () => {
    expect(loadEnv(base).HEAP_GROWING_PERCENT).toBe(25);
    expect(loadEnv({ ...base, HEAP_GROWING_PERCENT: '100' }).HEAP_GROWING_PERCENT).toBe(100);
  });

  it.each(['fast', '9', '401', '12.5'])('refuses %s, naming the variable', (value) => {
    expect(() => loadEnv({ ...base, HEAP_GROWING_PERCENT: value })).toThrow(/HEAP_GROWING_PERCENT: /);
  });
});
