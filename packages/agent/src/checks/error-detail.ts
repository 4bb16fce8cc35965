/** A short, stable description of a failure for a check's detail: "connect ECONNREFUSED", else the message. */
export function errorDetail(err: unknown): string {
  // Duck-typed, not `instanceof Error`: errors from Node's core may come from another realm (as under jest).
  if (typeof err !== 'object' || err === null || typeof (err as Error).message !== 'string') return String(err);
  const { code, syscall, message } = err as NodeJS.ErrnoException;
  if (code && syscall) return `${syscall} ${code}`;
  if (code) return message && !message.includes(code) ? `${code} (${message})` : code;
  return message;
}
