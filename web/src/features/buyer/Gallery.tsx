// A listing's photos: a large cover with a strip of thumbnails, and a full-screen viewer
// (arrow keys, swipe, Escape) that shows the full-size images.
import { useEffect, useRef, useState, type TouchEvent } from 'react';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { ListingPhoto } from '../listings/Photo';
import type { Schemas } from '../../api/client';
import { m } from './messages';

type Photo = Schemas['PhotoDto'];

export function Gallery({ photos, title }: { photos: Photo[]; title: string }) {
  const t = useT(m);
  const [index, setIndex] = useState(0);
  const [viewer, setViewer] = useState(false);
  const sorted = photos.slice().sort((a, b) => a.position - b.position);
  const total = sorted.length;
  const current = sorted[Math.min(index, total - 1)];
  if (total === 0) {
    return (
      <div className="home-gallery">
        <div className="home-gallery-main">
          <ListingPhoto fileId={null} alt={title} />
        </div>
      </div>
    );
  }
  return (
    <div className="home-gallery">
      <button type="button" className="home-gallery-main" aria-label={t('openPhoto', { n: index + 1, total })} onClick={() => setViewer(true)}>
        <ListingPhoto fileId={current?.file_id} thumb={false} alt="" />
        {total > 1 && <span className="home-gallery-count">{t('photoCounter', { n: index + 1, total })}</span>}
      </button>
      {total > 1 && (
        <ul className="home-gallery-strip" aria-label={t('photos')}>
          {sorted.map((p, i) => (
            <li key={p.file_id}>
              <button type="button" className={`home-gallery-thumb${i === index ? ' home-gallery-thumb-on' : ''}`} aria-label={t('showPhoto', { n: i + 1 })} aria-current={i === index ? 'true' : undefined} onClick={() => setIndex(i)}>
                <ListingPhoto fileId={p.file_id} alt="" />
              </button>
            </li>
          ))}
        </ul>
      )}
      {viewer && <Viewer photos={sorted} title={title} index={index} onIndex={setIndex} onClose={() => setViewer(false)} />}
    </div>
  );
}

function Viewer({ photos, title, index, onIndex, onClose }: { photos: Photo[]; title: string; index: number; onIndex: (i: number) => void; onClose: () => void }) {
  const t = useT(m);
  const tc = useT(common);
  const ref = useRef<HTMLDialogElement>(null);
  const touch = useRef<number | null>(null);
  const total = photos.length;
  const go = (d: number) => onIndex((index + d + total) % total);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal?.();
    return () => {
      if (d?.open) d.close();
    };
  }, []);
  const photo = photos[index];
  return (
    <dialog
      ref={ref}
      className="photo-viewer"
      aria-label={t('viewer', { title })}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      onKeyDown={(e) => {
        if (e.key === 'ArrowRight') go(1);
        if (e.key === 'ArrowLeft') go(-1);
      }}
    >
      <div className="photo-viewer-top">
        <span aria-live="polite">{t('photoCounter', { n: index + 1, total })}</span>
        <button type="button" className="icon-btn photo-viewer-btn" aria-label={tc('close')} onClick={onClose} autoFocus>
          ×
        </button>
      </div>
      <div
        className="photo-viewer-stage"
        onTouchStart={(e: TouchEvent) => (touch.current = e.touches[0]?.clientX ?? null)}
        onTouchEnd={(e: TouchEvent) => {
          const start = touch.current;
          const end = e.changedTouches[0]?.clientX;
          touch.current = null;
          if (start === null || end === undefined) return;
          if (end - start > 50) go(-1);
          if (start - end > 50) go(1);
        }}
      >
        {photo && <ListingPhoto key={photo.file_id} fileId={photo.file_id} thumb={false} alt={`${title} — ${index + 1}/${total}`} className="photo-viewer-img" />}
      </div>
      {total > 1 && (
        <>
          <button type="button" className="icon-btn photo-viewer-btn photo-viewer-prev" aria-label={t('prevPhoto')} onClick={() => go(-1)}>
            ‹
          </button>
          <button type="button" className="icon-btn photo-viewer-btn photo-viewer-next" aria-label={t('nextPhoto')} onClick={() => go(1)}>
            ›
          </button>
        </>
      )}
    </dialog>
  );
}
