import { hostname, userInfo } from 'node:os';

/** Who runs this CLI, as records say it: user@hostname (rollout requests, controls, desired versions, locks). */
export function operator(): string {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers)
  }
  return `${user || process.env.USER || process.env.LOGNAME || 'unknown'}@${hostname()}`;
}
