// "Offline" / "Reconnecting…" while the realtime connection is down; nothing when online.
import { useEffect, useState } from 'react';
import { useStore } from '../../lib/store';
import { connection } from '../../realtime/socket';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';

export function ConnectionBanner() {
  const status = useStore(connection);
  const t = useT(common);
  // Do not flash the banner for a reconnect that takes less than a second.
  const [show, setShow] = useState(false);
  useEffect(() => {
    if (status === 'online' || status === 'idle' || status === 'connecting') {
      setShow(false);
      return;
    }
    const id = setTimeout(() => setShow(true), 800);
    return () => clearTimeout(id);
  }, [status]);
  if (!show) return null;
  return (
    <div className={`conn-banner conn-${status}`} role="status" aria-live="polite" data-connection={status}>
      {status === 'offline' ? t('offline') : t('reconnecting')}
    </div>
  );
}
