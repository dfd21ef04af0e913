/**
 * A refused request in words: the server's `error` (code, message, field), as the live
 * connection rejects with it, or any other failure's message.
 */
export function serverErrorText(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err) {
    const e = err as { code?: string; message: string; field?: string };
    return `${e.code ? `${e.code}: ` : ''}${e.message}${e.field ? ` (field ${e.field})` : ''}`;
  }
  return String(err);
}
