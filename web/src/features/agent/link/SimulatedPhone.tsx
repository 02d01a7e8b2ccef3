// Demo helper: when the link runs the WAHA emulator, a link to its simulated phone (scan the
// QR, write as a buyer, unlink) in a new tab. The URL carries the link's session key, so it is
// fetched only for this agent's own link and never shown as text.
import { useEffect, useState } from 'react';
import { useT } from '../../../i18n';
import { simulatedPhoneUrl } from './linkStore';
import { linkMessages as m } from './messages';
import type { Link } from './model';

export function SimulatedPhone({ link }: { link: Link }) {
  const t = useT(m);
  const [url, setUrl] = useState<string | null>(null);
  // The container (and its published port) can change on every restart: ask again then.
  // Ask only once the container runs (before that the answer is a 503, not a "no").
  const running = link.status !== 'provisioning' && link.status !== 'stopped' && link.container?.state === 'running';
  const key = `${link.id}:${link.status}:${link.container?.started_at ?? ''}`;
  useEffect(() => {
    let live = true;
    if (!running) {
      setUrl(null);
      return;
    }
    simulatedPhoneUrl(link.id).then(
      (u) => live && setUrl(u),
      () => live && setUrl(null), // not running yet: the next status change asks again
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, running]);
  if (!url) return null;
  return (
    <section className="card link-sim" aria-labelledby="link-sim-h">
      <h2 id="link-sim-h">{t('simTitle')}</h2>
      <p>{t('simBody')}</p>
      <a className="btn" href={url} target="_blank" rel="noopener noreferrer">
        {t('simOpen')} <span className="visually-hidden">{t('simNewTab')}</span>
        <span aria-hidden="true">↗</span>
      </a>
      <p className="hint">{t('simPrivate')}</p>
    </section>
  );
}
