// The listing a conversation is about (photo, title, price, city), fetched once per listing
// and shared by the inbox rows and the thread header.
import { useEffect, useState } from 'react';
import { api, unwrap, type Schemas } from '../../api/client';

export type Listing = Schemas['PropertyDto'];

const cache = new Map<string, Promise<Listing | null>>();

export function loadListing(id: string): Promise<Listing | null> {
  let p = cache.get(id);
  if (!p) {
    p = unwrap(api.GET('/api/v1/properties/{id}', { params: { path: { id } } })).then(
      (l) => l,
      () => {
        cache.delete(id);
        return null;
      },
    );
    cache.set(id, p);
  }
  return p;
}

export function useListing(id: string | null | undefined): Listing | null {
  const [l, setL] = useState<Listing | null>(null);
  useEffect(() => {
    let live = true;
    setL(null);
    if (!id) return;
    void loadListing(id).then((x) => live && setL(x));
    return () => {
      live = false;
    };
  }, [id]);
  return l;
}

/** The thumbnail path of a listing's first photo. */
export function listingThumb(l: Listing | null): string | null {
  const p = l?.photos.slice().sort((a, b) => a.position - b.position)[0];
  return p ? `${p.url}?thumbnail=true` : null;
}
