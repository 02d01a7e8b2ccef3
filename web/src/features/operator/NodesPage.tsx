// `/nodes`: the Docker Swarm nodes the sessions run on, with their links and the per-node cap.
// Draining a node moves its links to other nodes; the confirmation says that a moved link needs
// a new QR scan (its login stays on the drained node) unless the volumes are shared. Both
// actions are audited by the server.
import { useEffect, useState } from 'react';
import { useT } from '../../i18n';
import { problemMessage } from '../../api/problem';
import { Confirm, Empty, ErrorText, Spinner } from '../../ui/controls';
import { toast } from '../../ui/toast';
import { nodesMessages as m } from './nodesMessages';
import { Cell } from './parts';
import { adminApi, type SwarmNode } from './adminApi';

export function NodesPage() {
  const t = useT(m);
  const [nodes, setNodes] = useState<SwarmNode[] | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [tick, setTick] = useState(0);
  const [draining, setDraining] = useState<SwarmNode | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    setError(undefined);
    adminApi.nodes().then(
      (n) => live && setNodes(n),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [tick]);

  const name = (n: SwarmNode) => n.hostname || n.id;

  const drain = async (n: SwarmNode) => {
    setBusy(true);
    try {
      const out = await adminApi.drain(n.id);
      const text = t('drained', { moved: out.moved.length, unplaced: out.unplaced.length });
      toast(out.needs_scan && out.moved.length > 0 ? `${text} ${t('drainedScan')}` : text, 'success');
      setDraining(null);
      setTick((x) => x + 1);
    } catch (e) {
      toast(problemMessage(e), 'error');
    } finally {
      setBusy(false);
    }
  };

  const activate = async (n: SwarmNode) => {
    try {
      await adminApi.activate(n.id);
      toast(t('activated'), 'success');
      setTick((x) => x + 1);
    } catch (e) {
      toast(problemMessage(e), 'error');
    }
  };

  return (
    <div className="page op-page">
      <div className="row-between op-head">
        <div>
          <h1>{t('title')}</h1>
          <p className="muted op-sub">{t('intro')}</p>
        </div>
        <button type="button" className="btn btn-small" onClick={() => setTick((x) => x + 1)}>
          {t('refresh')}
        </button>
      </div>
      {error !== undefined && <ErrorText>{t('loadFailed')}</ErrorText>}
      {nodes === null && error === undefined && <Spinner />}
      {nodes && nodes.length === 0 && <Empty title={t('none')} />}
      {nodes && nodes.length > 0 && (
        <div className="table-wrap op-table-wrap">
          <table className="table op-cards-table">
            <caption className="visually-hidden">{t('title')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('colNode')}</th>
                <th scope="col">{t('colRole')}</th>
                <th scope="col">{t('colAvailability')}</th>
                <th scope="col">{t('colState')}</th>
                <th scope="col">{t('colLinks')}</th>
                <th scope="col">{t('colActions')}</th>
              </tr>
            </thead>
            <tbody>
              {nodes.map((n) => (
                <tr key={n.id}>
                  <Cell label={t('colNode')}>
                    <span>{name(n)}</span>
                    {n.sessions_label && <span className="muted"> · {t('sessionsLabel')}</span>}
                  </Cell>
                  <Cell label={t('colRole')}>{n.role}</Cell>
                  <Cell label={t('colAvailability')}>{n.availability}</Cell>
                  <Cell label={t('colState')}>{n.state}</Cell>
                  <Cell label={t('colLinks')}>
                    {t('linksOfCap', { links: n.links, cap: n.cap })}
                    {n.links >= n.cap && <span className="muted"> · {t('full')}</span>}
                  </Cell>
                  <Cell label={t('colActions')}>
                    {n.availability === 'drain' ? (
                      <button type="button" className="btn btn-small" aria-label={t('activateNamed', { node: name(n) })} onClick={() => void activate(n)}>
                        {t('activate')}
                      </button>
                    ) : (
                      <button type="button" className="btn btn-small btn-danger" aria-label={t('drainNamed', { node: name(n) })} onClick={() => setDraining(n)}>
                        {t('drain')}
                      </button>
                    )}
                  </Cell>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Confirm
        open={draining !== null}
        title={draining ? t('drainTitle', { node: name(draining) }) : ''}
        body={
          <>
            <p>{t('drainBody', { links: draining?.links ?? 0 })}</p>
            <p>
              <strong>{t('drainScan')}</strong>
            </p>
          </>
        }
        confirmLabel={t('drain')}
        danger
        busy={busy}
        onConfirm={() => draining && void drain(draining)}
        onClose={() => setDraining(null)}
      />
    </div>
  );
}
