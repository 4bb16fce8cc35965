/**
 * dockerode errors carry the HTTP status in `statusCode` and the daemon's own words in
 * `json.message`; their `message` wraps those in "(HTTP code 404) no such container - ...".
 */
interface DockerodeError {
  statusCode?: number;
  json?: { message?: string } | null;
  message?: string;
}

export function dockerStatus(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null ? (err as DockerodeError).statusCode : undefined;
}

/** The daemon's message for a failed call, without dockerode's wrapping; else the error's message. */
export function daemonMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const e = err as DockerodeError;
    const fromJson = e.json && typeof e.json === 'object' ? e.json.message : undefined;
    if (fromJson) return fromJson.trim();
    if (e.message) return e.message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
  }
  return String(err);
}

export const isNotFound = (err: unknown): boolean => dockerStatus(err) === 404;
