// The operator's console: the live fleet of WAHA session containers, one link's page (facts,
// logs, actions), the report queue, the audit log and the Swarm nodes.
import { useEffect } from 'react';
import type { User } from '../../session/session';
import { match, navigate, useRoute } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { Empty } from '../../ui/controls';
import { ErrorBoundary } from '../../ui/ErrorBoundary';
import { Link } from '../../router';
import { FleetPage } from './FleetPage';
import { LinkPage } from './LinkPage';
import { ReportsPage } from './ReportsPage';
import { AuditPage } from './AuditPage';
import { NodesPage } from './NodesPage';
import './operator.css';

export function OperatorApp({ user }: { user: User }) {
  const { path } = useRoute();
  const tc = useT(common);

  useEffect(() => {
    if (path === '/' || path === '') navigate('/fleet', { replace: true });
  }, [path]);

  let page;
  const detail = match('/fleet/:id', path);
  if (path === '/' || path === '' || path === '/fleet') page = <FleetPage />;
  else if (detail) page = <LinkPage id={detail.id as string} />;
  else if (path === '/reports') page = <ReportsPage userId={user.id} />;
  else if (path === '/audit') page = <AuditPage user={user} />;
  else if (path === '/nodes') page = <NodesPage />;
  else
    page = (
      <div className="page">
        <Empty title={tc('notFound')}>
          <p>{tc('notFoundBody')}</p>
          <Link to="/fleet">{tc('goHome')}</Link>
        </Empty>
      </div>
    );
  return <ErrorBoundary inline>{page}</ErrorBoundary>;
}
