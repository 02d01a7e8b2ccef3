// What a message carries besides text: a photo (thumbnail, opened in a viewer), a file
// (name, size, download), audio and video players, a location with a map link. Files need
// the access token, so they are shown from blob: URLs (`ui/files.ts`).
import { useState } from 'react';
import { useT } from '../../i18n';
import { Dialog, Spinner } from '../../ui/controls';
import { downloadFile, useFileUrl } from '../../ui/files';
import { formatBytes } from '../../lib/format';
import { m as cat } from './messages';
import { locationOf, mapUrl, type Msg } from './model';

export function MessageMedia({ msg }: { msg: Msg }) {
  const t = useT(cat);
  const media = msg.media;
  const meta = msg.meta as unknown as { media_error?: string } | null;
  const loc = msg.kind === 'location' ? locationOf(msg) : undefined;
  if (loc) {
    return (
      <div className="media-location">
        <span className="media-location-pin" aria-hidden="true">
          📍
        </span>
        <div>
          <div className="media-location-name">{loc.name ?? t('location')}</div>
          {loc.address && <div className="muted small">{loc.address}</div>}
          <div className="muted small">
            {loc.latitude.toFixed(5)}, {loc.longitude.toFixed(5)}
          </div>
          <a href={mapUrl(loc)} target="_blank" rel="noopener noreferrer" className="small">
            {t('openMap')}
          </a>
        </div>
      </div>
    );
  }
  if (!media) {
    if (meta?.media_error) return <p className="media-error small">{t('mediaError')}</p>;
    return null;
  }
  const localUrl = msg.local?.previewUrl;
  switch (msg.kind) {
    case 'image':
      return <ImageMedia msg={msg} localUrl={localUrl} />;
    case 'video':
      return <PlayerMedia kind="video" path={localUrl ? null : media.url} localUrl={localUrl} label={media.file_name ?? t('video')} />;
    case 'audio':
    case 'voice':
      return (
        <PlayerMedia kind="audio" path={localUrl ? null : media.url} localUrl={localUrl} label={msg.kind === 'voice' ? t('voice') : media.file_name ?? t('audio')} />
      );
    default:
      return <FileMedia msg={msg} />;
  }
}

function ImageMedia({ msg, localUrl }: { msg: Msg; localUrl?: string | undefined }) {
  const t = useT(cat);
  const media = msg.media;
  const [open, setOpen] = useState(false);
  const thumb = useFileUrl(localUrl || !media ? null : media.thumbnail_url ?? media.url);
  const full = useFileUrl(open && media && !localUrl ? media.url : null);
  const src = localUrl ?? thumb.url;
  const name = media?.file_name ?? t('photo');
  return (
    <>
      <button type="button" className="media-image" onClick={() => setOpen(true)} aria-label={t('openPhoto', { name })} disabled={!src}>
        {src ? <img src={src} alt="" /> : thumb.failed ? <span className="small">{t('mediaFailed')}</span> : <Spinner label={t('mediaLoading')} />}
      </button>
      <Dialog
        open={open}
        title={name}
        onClose={() => setOpen(false)}
        footer={
          media?.url && !localUrl ? (
            <button type="button" className="btn" onClick={() => void downloadFile(media.url, media.file_name ?? 'photo')}>
              {t('download')}
            </button>
          ) : undefined
        }
      >
        <div className="media-viewer">
          {localUrl || full.url ? <img src={localUrl ?? full.url} alt={msg.body ?? name} /> : full.failed ? <p>{t('mediaFailed')}</p> : <Spinner label={t('mediaLoading')} />}
        </div>
      </Dialog>
    </>
  );
}

function PlayerMedia({ kind, path, localUrl, label }: { kind: 'audio' | 'video'; path: string | null; localUrl?: string | undefined; label: string }) {
  const t = useT(cat);
  const f = useFileUrl(path);
  const src = localUrl ?? f.url;
  if (!src) return f.failed ? <p className="media-error small">{t('mediaFailed')}</p> : <Spinner label={t('mediaLoading')} />;
  return kind === 'video' ? (
    <video className="media-video" src={src} controls preload="metadata" aria-label={label} />
  ) : (
    <audio className="media-audio" src={src} controls preload="metadata" aria-label={label} />
  );
}

function FileMedia({ msg }: { msg: Msg }) {
  const t = useT(cat);
  const media = msg.media;
  if (!media) return null;
  const name = media.file_name || t('file');
  const ext = name.includes('.') ? name.split('.').pop()?.toUpperCase().slice(0, 4) : media.mimetype?.split('/')[1]?.toUpperCase().slice(0, 4);
  return (
    <div className="media-file">
      <span className="media-file-icon" aria-hidden="true">
        {ext ?? '📄'}
      </span>
      <div className="grow">
        <div className="media-file-name truncate">{name}</div>
        <div className="muted small">{[media.size_bytes != null ? formatBytes(media.size_bytes) : null, media.mimetype].filter(Boolean).join(' · ')}</div>
      </div>
      {media.url && !msg.local && (
        <button type="button" className="icon-btn" aria-label={t('downloadFile', { name })} onClick={() => void downloadFile(media.url, name)}>
          ⬇
        </button>
      )}
    </div>
  );
}
