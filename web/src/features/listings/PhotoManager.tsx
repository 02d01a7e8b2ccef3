// A listing's photos for its staff: thumbnails in display order (the first is the cover),
// several uploads at once with per-file progress, "make cover", and confirmed removal.
import { useRef, useState, type DragEvent } from 'react';
import { api, ok, unwrap } from '../../api/client';
import { problemMessage } from '../../api/problem';
import { useT } from '../../i18n';
import { Confirm } from '../../ui/controls';
import { toast } from '../../ui/toast';
import { formatBytes } from '../../lib/format';
import { m } from './messages';
import { ListingPhoto } from './Photo';
import { MAX_UPLOAD, PHOTO_TYPES, uploadFile } from './upload';
import type { Listing } from './form';

const MAX_PHOTOS = 50;

interface Pending {
  key: number;
  name: string;
  size: number;
  progress: number;
  error?: string;
}

let nextKey = 1;

export function PhotoManager({ listing, onChanged }: { listing: Listing; onChanged: (p: Listing) => void }) {
  const t = useT(m);
  const [pending, setPending] = useState<Pending[]>([]);
  const [removing, setRemoving] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [drag, setDrag] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const latest = useRef(listing);
  latest.current = listing;
  const photos = [...listing.photos].sort((a, b) => a.position - b.position);

  const patch = (key: number, p: Partial<Pending>) => setPending((l) => l.map((x) => (x.key === key ? { ...x, ...p } : x)));

  const addFiles = async (files: File[]) => {
    if (!files.length) return;
    const room = MAX_PHOTOS - latest.current.photos.length;
    if (files.length > room) toast(t('tooMany', { max: MAX_PHOTOS }), 'error');
    const take = files.slice(0, Math.max(0, room));
    const items = take.map((f) => ({ file: f, p: { key: nextKey++, name: f.name, size: f.size, progress: 0 } as Pending }));
    setPending((l) => [...l, ...items.map((i) => i.p)]);
    // One at a time keeps the order the person chose and the server's load modest.
    for (const { file, p } of items) {
      if (!PHOTO_TYPES.includes(file.type)) {
        patch(p.key, { error: t('uploadFailed', { name: file.name, error: t('notAnImage') }) });
        continue;
      }
      if (file.size > MAX_UPLOAD) {
        patch(p.key, { error: t('uploadFailed', { name: file.name, error: t('tooBig') }) });
        continue;
      }
      try {
        const f = await uploadFile(file, (x) => patch(p.key, { progress: x }));
        patch(p.key, { progress: 1 });
        const updated = await unwrap(
          api.POST('/api/v1/properties/{id}/photos', { params: { path: { id: latest.current.id } }, body: { file_id: f.id } }),
        );
        onChanged(updated);
        setPending((l) => l.filter((x) => x.key !== p.key));
      } catch (err) {
        patch(p.key, { error: t('uploadFailed', { name: file.name, error: problemMessage(err) }) });
      }
    }
  };

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    try {
      await ok(api.DELETE('/api/v1/properties/{id}/photos/{file_id}', { params: { path: { id: listing.id, file_id: removing } } }));
      onChanged({ ...latest.current, photos: latest.current.photos.filter((p) => p.file_id !== removing) });
      toast(t('removed'), 'success');
      setRemoving(null);
    } catch (err) {
      toast(problemMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };

  const makeCover = async (fileId: string) => {
    setBusy(true);
    try {
      // Positions 0..n with the chosen photo first; each call moves one photo.
      const order = [fileId, ...photos.map((p) => p.file_id).filter((id) => id !== fileId)];
      let last: Listing | undefined;
      for (const [i, id] of order.entries()) {
        last = await unwrap(api.POST('/api/v1/properties/{id}/photos', { params: { path: { id: listing.id } }, body: { file_id: id, position: i } }));
      }
      if (last) onChanged(last);
    } catch (err) {
      toast(problemMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDrag(false);
    void addFiles([...e.dataTransfer.files]);
  };

  return (
    <section className="card" aria-labelledby="photos-h">
      <h2 id="photos-h">
        {t('photosTitle')} <span className="muted small">({photos.length})</span>
      </h2>
      <p className="muted small">{t('photosHint', { max: MAX_PHOTOS })}</p>
      {photos.length === 0 && pending.length === 0 && <p className="notice small">{t('noPhotos')}</p>}
      <ul className="photo-grid" aria-label={t('photosTitle')}>
        {photos.map((p, i) => (
          <li key={p.file_id} className="photo-tile">
            <ListingPhoto fileId={p.file_id} alt={`${listing.title} — ${i + 1}`} />
            {i === 0 && <span className="photo-cover tag tag-ok">{t('cover')}</span>}
            <div className="photo-actions">
              {i > 0 && (
                <button type="button" className="icon-btn photo-btn" aria-label={t('makeCover', { n: i + 1 })} title={t('makeCover', { n: i + 1 })} disabled={busy} onClick={() => void makeCover(p.file_id)}>
                  ★
                </button>
              )}
              <button type="button" className="icon-btn photo-btn" aria-label={t('removePhoto', { n: i + 1 })} title={t('removePhoto', { n: i + 1 })} disabled={busy} onClick={() => setRemoving(p.file_id)}>
                ×
              </button>
            </div>
          </li>
        ))}
        {pending.map((p) => (
          <li key={p.key} className={`photo-tile photo-pending${p.error ? ' photo-failed' : ''}`}>
            {p.error ? (
              <div className="photo-pending-body" role="alert">
                <span className="small">{p.error}</span>
                <button type="button" className="btn btn-small" onClick={() => setPending((l) => l.filter((x) => x.key !== p.key))}>
                  {t('dismissUpload')}
                </button>
              </div>
            ) : (
              <div className="photo-pending-body">
                <span className="small truncate">{p.name}</span>
                <span className="muted small">{formatBytes(p.size)}</span>
                <progress max={1} value={p.progress} aria-label={t('uploading', { name: p.name })} />
              </div>
            )}
          </li>
        ))}
      </ul>
      <div
        className={`dropzone${drag ? ' dropzone-on' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDrag(true);
        }}
        onDragLeave={() => setDrag(false)}
        onDrop={onDrop}
      >
        <input
          ref={input}
          id={`photo-input-${listing.id}`}
          className="visually-hidden"
          type="file"
          accept={PHOTO_TYPES.join(",")}
          aria-label={t("addPhotos")}
          tabIndex={-1}
          multiple
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            e.target.value = '';
            void addFiles(files);
          }}
        />
        <button type="button" className="btn" onClick={() => input.current?.click()} disabled={photos.length >= MAX_PHOTOS}>
          + {t('addPhotos')}
        </button>
        <span className="muted small">{t('dropHere')}</span>
      </div>
      <Confirm
        open={removing !== null}
        title={t('removeTitle')}
        body={<p>{t('removeBody')}</p>}
        confirmLabel={t('remove')}
        danger
        busy={busy}
        onConfirm={() => void remove()}
        onClose={() => setRemoving(null)}
      />
    </section>
  );
}
