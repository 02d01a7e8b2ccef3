// Files (`/api/v1/files/{id}`) need the bearer token, which <img src> cannot send, so they
// are fetched once and shown from blob: URLs (allowed by the CSP), kept in a small cache.
import { useEffect, useState } from 'react';
import { rawFetch } from '../api/client';

const cache = new Map<string, Promise<string>>();
const MAX = 300;

export function fileUrl(path: string): Promise<string> {
  let p = cache.get(path);
  if (!p) {
    p = rawFetch(path).then(async (r) => URL.createObjectURL(await r.blob()));
    p.catch(() => cache.delete(path));
    cache.set(path, p);
    if (cache.size > MAX) {
      const oldest = cache.keys().next().value as string;
      void cache.get(oldest)?.then((u) => URL.revokeObjectURL(u));
      cache.delete(oldest);
    }
  }
  return p;
}

/** A blob: URL for an API file path (e.g. `/api/v1/files/ID?thumb=1`), or undefined while loading. */
export function useFileUrl(path: string | null | undefined): { url?: string | undefined; failed: boolean } {
  const [url, setUrl] = useState<string | undefined>(undefined);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    setUrl(undefined);
    setFailed(false);
    if (!path) return;
    fileUrl(path).then(
      (u) => live && setUrl(u),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [path]);
  return { url, failed };
}

/** Save a file to disk under its own name. */
export async function downloadFile(path: string, name: string) {
  const url = await fileUrl(path);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}
