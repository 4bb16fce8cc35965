import http from 'node:http';

/** A long-lived streaming response held open by a test, e.g. the demo app's `/stream`. */
export interface OpenStream {
  /** Chunks received so far. */
  readonly chunks: number;
  /** Version header of the response. */
  readonly version: string;
  /** Resolves when the stream ends, with how it ended and when. */
  readonly closed: Promise<{ how: 'ended' | 'error'; detail: string; at: number }>;
  close(): void;
}

/** Opens a streaming GET and resolves once the first chunk has arrived. */
export function openStream(url: string): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    let chunks = 0;
    let settle: (v: { how: 'ended' | 'error'; detail: string; at: number }) => void = () => undefined;
    const closed = new Promise<{ how: 'ended' | 'error'; detail: string; at: number }>((r) => (settle = r));
    const req = http.get(url, { agent: false }, (res) => {
      const version = String(res.headers['x-app-version'] ?? '');
      res.on('data', () => {
        chunks++;
        if (chunks === 1) {
          resolve({
            get chunks() {
              return chunks;
            },
            version,
            closed,
            close: () => req.destroy(),
          });
        }
      });
      res.on('end', () => settle({ how: 'ended', detail: 'response ended', at: Date.now() }));
      res.on('error', (err) => settle({ how: 'error', detail: err.message, at: Date.now() }));
      res.on('close', () => settle({ how: 'ended', detail: 'connection closed', at: Date.now() }));
    });
    req.on('error', (err) => {
      settle({ how: 'error', detail: err.message, at: Date.now() });
      if (chunks === 0) reject(err);
    });
  });
}
