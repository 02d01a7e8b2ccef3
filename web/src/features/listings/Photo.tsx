// A listing's photo from the API (fetched with the bearer token, shown from a blob: URL),
// or a neutral placeholder while it loads or when the listing has none.
import { useFileUrl } from '../../ui/files';
import { useT } from '../../i18n';
import { listingWords } from './messages';

export function photoPath(fileId: string, thumb: boolean): string {
  return `/api/v1/files/${fileId}${thumb ? '?thumbnail=true' : ''}`;
}

export function ListingPhoto({ fileId, thumb = true, alt, className }: { fileId: string | null | undefined; thumb?: boolean; alt: string; className?: string }) {
  const t = useT(listingWords);
  const { url, failed } = useFileUrl(fileId ? photoPath(fileId, thumb) : null);
  const cls = `listing-photo${className ? ` ${className}` : ''}`;
  if (!fileId || failed) {
    return (
      <span className={`${cls} listing-photo-none`} role="img" aria-label={alt ? `${alt} — ${t('noPhoto')}` : t('noPhoto')}>
        <svg viewBox="0 0 24 24" width="32" height="32" aria-hidden="true">
          <path fill="currentColor" d="M12 3 2 11h3v9h5v-6h4v6h5v-9h3z" />
        </svg>
      </span>
    );
  }
  if (!url) return <span className={`${cls} listing-photo-loading`} aria-hidden="true" />;
  return <img className={cls} src={url} alt={alt} loading="lazy" decoding="async" />;
}
