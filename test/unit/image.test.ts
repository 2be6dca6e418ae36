import { readFileSync } from 'node:fs';
import path from 'node:path';
import { IMAGE_ENV } from '../../bench/worker';

/** The bench measures workers as the image runs them: the environment the image's runtime stage sets is the bench's too. */

/** `KEY=value` pairs of the ENV instructions of the Dockerfile's runtime stage (continuation lines joined). */
function runtimeEnv(dockerfile: string): Record<string, string> {
  const stage = dockerfile.slice(dockerfile.indexOf('AS runtime'));
  const lines = stage.replace(/\\\n/g, ' ').split('\n').filter((l) => l.startsWith('ENV '));
  return Object.fromEntries(lines.flatMap((l) => [...l.slice(4).matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])));
}

test('the image runs its processes with two malloc arenas and its memory settings, and the bench its workers the same way', () => {
  const env = runtimeEnv(readFileSync(path.resolve(__dirname, '../../Dockerfile'), 'utf8'));
  expect(env.MALLOC_ARENA_MAX).toBe('2');
  expect(env.NODE_OPTIONS).toBe('--max-semi-space-size=8');
  expect(env.HEAP_GROWING_PERCENT).toBe('100');
  expect(env.NODE_ENV).toBe('production');
  expect(IMAGE_ENV).toEqual({ MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX, NODE_OPTIONS: env.NODE_OPTIONS, HEAP_GROWING_PERCENT: env.HEAP_GROWING_PERCENT });
});
