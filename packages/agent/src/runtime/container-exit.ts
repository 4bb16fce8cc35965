import type Docker from 'dockerode';

/** Docker's "seconds.nanoseconds" timestamp for the events API. */
export function dockerTimestamp(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `${seconds}.${String((ms - seconds * 1000) * 1_000_000).padStart(9, '0')}`;
}

/**
 * The exit code of the first time container `id` died between `sinceMs` and now, read from the
 * daemon's recent events. Inspect alone cannot tell it once a restart policy has restarted the
 * container (its State then describes the new run). Undefined when no such event is found.
 */
export async function firstExitCode(docker: Docker, id: string, sinceMs: number): Promise<number | undefined> {
  const stream = (await docker.getEvents({
    since: dockerTimestamp(sinceMs - 1000),
    until: dockerTimestamp(Date.now()),
    filters: { container: [id], event: ['die'] },
  } as unknown as Parameters<Docker['getEvents']>[0])) as NodeJS.ReadableStream;
  let text = '';
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const event = JSON.parse(line) as { Action?: string; Actor?: { Attributes?: Record<string, string> } };
    const code = event.Action === 'die' ? event.Actor?.Attributes?.exitCode : undefined;
    if (code !== undefined && /^-?\d+$/.test(code)) return Number(code);
  }
  return undefined;
}
