// The agency staff's app (agents and agency admins): the inbox, their WhatsApp link, listings
// and, for admins, the agency. Above every screen but the link screen itself, the alert that
// says when their WhatsApp is not working (kept live by the link store started here).
import { useEffect } from 'react';
import { useMessageAlerts } from '../chat/notify';
import type { User } from '../../session/session';
import { Link, match, navigate, useRoute } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { ErrorBoundary } from '../../ui/ErrorBoundary';
import { Inbox } from './inbox/Inbox';
import { ListingsManager } from '../listings/ListingsManager';
import { AgencyAdmin } from '../agency/AgencyAdmin';
import { LinkAlert } from './link/LinkAlert';
import { LinkScreen } from './link/LinkScreen';
import { useLinkTracking } from './link/linkStore';
import { linkMessages } from './link/messages';
import './link/frame.css';

export type AgentRoute =
  | { screen: 'home' }
  | { screen: 'inbox'; conversationId?: string | undefined }
  | { screen: 'whatsapp' }
  | { screen: 'listings' }
  | { screen: 'agency' }
  | { screen: 'notFound' };

/** Which screen a path shows. */
export function agentRoute(path: string): AgentRoute {
  if (path === '/' || path === '') return { screen: 'home' };
  if (match('/inbox', path)) return { screen: 'inbox' };
  const conv = match('/inbox/:id', path);
  if (conv) return { screen: 'inbox', conversationId: conv.id };
  if (match('/whatsapp', path)) return { screen: 'whatsapp' };
  if (match('/listings', path) || match('/listings/*', path)) return { screen: 'listings' };
  if (match('/agency', path)) return { screen: 'agency' };
  return { screen: 'notFound' };
}

export function AgentApp({ user }: { user: User }) {
  const { path } = useRoute();
  const r = agentRoute(path.length > 1 ? path.replace(/\/+$/, '') : path);
  useLinkTracking();

  useEffect(() => {
    if (r.screen === 'home') navigate('/inbox', { replace: true });
  }, [r.screen]);

  let screen;
  switch (r.screen) {
    case 'home':
      screen = null;
      break;
    case 'inbox':
      screen = <Inbox user={user} conversationId={r.conversationId} />;
      break;
    case 'whatsapp':
      screen = <LinkScreen />;
      break;
    case 'listings':
      screen = <ListingsManager user={user} />;
      break;
    case 'agency':
      screen = user.role === 'agency_admin' ? <AgencyAdmin user={user} /> : <NotAllowed />;
      break;
    default:
      screen = <NotFound />;
  }

  return (
    <div className={`agent-app agent-${r.screen}`}>
      {r.screen !== 'whatsapp' && (
        <ErrorBoundary inline>
          <LinkAlert />
        </ErrorBoundary>
      )}
      {r.screen !== 'inbox' && <BackgroundAlerts user={user} />}
      <div className="agent-screen">{screen}</div>
    </div>
  );
}

function NotAllowed() {
  const t = useT(linkMessages);
  return (
    <div className="error-page" role="alert">
      <h1>{t('notAllowedTitle')}</h1>
      <p className="muted">{t('notAllowedBody')}</p>
      <Link to="/inbox" className="btn btn-primary">
        {t('goInbox')}
      </Link>
    </div>
  );
}

function NotFound() {
  const t = useT(common);
  return (
    <div className="error-page">
      <h1>{t('notFound')}</h1>
      <p className="muted">{t('notFoundBody')}</p>
      <Link to="/inbox" className="btn btn-primary">
        {t('goHome')}
      </Link>
    </div>
  );
}

const noName = () => undefined;
const inboxPath = (id: string) => `/inbox/${id}`;

/** Off the inbox (which alerts with the conversation's name itself): still beep and notify
 *  for a message that arrives while the tab is hidden. */
function BackgroundAlerts({ user }: { user: User }) {
  useMessageAlerts(user, noName, inboxPath);
  return null;
}
