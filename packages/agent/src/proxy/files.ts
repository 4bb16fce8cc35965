import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A temp path beside `path` (same filesystem, so rename is atomic). */
export const tempPathFor = (path: string): string => join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);

/** Writes `content` so that readers see either the old file or the complete new one, even across a crash or a full disk. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const temp = tempPathFor(path);
  const handle = await open(temp, 'w', 0o600);
  try {
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    // A full disk (ENOSPC) or a vanished directory: no partial temp file is left behind.
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** Writes only when the content differs; returns whether it wrote. */
export async function writeFileIfChanged(path: string, content: string): Promise<boolean> {
  if ((await readIfExists(path)) === content) return false;
  await writeFileAtomic(path, content);
  return true;
}

export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
