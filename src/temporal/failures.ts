/** The innermost message of a Temporal failure chain: the one that says what went wrong. */
export function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  let message = e?.message ?? String(err);
  while (e && typeof e === 'object' && e.cause) {
    e = e.cause as { message?: string; cause?: unknown };
    if (e?.message) message = e.message;
  }
  return message;
}
