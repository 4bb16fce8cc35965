/** A short age or remaining time for a table cell: "42s", "5m", "3h", "2d". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** Time since an ISO timestamp, or "-" when there is none or it does not parse. */
export function ageSince(iso: string | undefined, now: Date): string {
  if (!iso) return '-';
  const at = Date.parse(iso);
  return Number.isNaN(at) ? '-' : formatAge(now.getTime() - at);
}
