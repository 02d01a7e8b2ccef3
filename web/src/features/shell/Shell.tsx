// The signed-in frame: the top bar with the role's navigation, the connection banner, the
// user menu, and the role's own app in the main area. Unread counts show in the nav and the
// tab title.
import { lazy, Suspense, useEffect, type ReactNode } from 'react';
import type { User } from '../../session/session';
import { session } from '../../session/session';
import { Link, useRoute } from '../../router';
import { useT, setLocale, useLocale } from '../../i18n';
import { common } from '../../i18n/common';
import { shellMessages as m } from './messages';
import { ConnectionBanner } from './ConnectionBanner';
import { ErrorBoundary } from '../../ui/ErrorBoundary';
import { Profile } from '../auth/Profile';
import { Avatar, Spinner } from '../../ui/controls';

// Each role's app is its own chunk: a buyer's phone never downloads the operator console.
const AgentApp = lazy(() => import('../agent/AgentApp').then((m) => ({ default: m.AgentApp })));
const BuyerApp = lazy(() => import('../buyer/BuyerApp').then((m) => ({ default: m.BuyerApp })));
const OperatorApp = lazy(() => import('../operator/OperatorApp').then((m) => ({ default: m.OperatorApp })));
import { unreadTotal, useUnreadTracking } from '../chat/unread';
import { useStore } from '../../lib/store';

interface NavItem {
  to: string;
  label: string;
  badge?: number;
}

export function Shell({ user }: { user: User }) {
  const t = useT(m);
  const tc = useT(common);
  const { path } = useRoute();
  const lang = useLocale();
  const staff = user.role === 'agent' || user.role === 'agency_admin';
  useUnreadTracking(user.role !== 'operator');
  const unread = useStore(unreadTotal);

  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Puente` : 'Puente';
  }, [unread]);

  const nav: NavItem[] =
    user.role === 'operator'
      ? [
          { to: '/fleet', label: t('fleet') },
          { to: '/reports', label: t('reports') },
          { to: '/audit', label: t('audit') },
          { to: '/nodes', label: t('nodes') },
        ]
      : staff
        ? [
            { to: '/inbox', label: t('inbox'), badge: unread },
            { to: '/whatsapp', label: t('whatsapp') },
            { to: '/listings', label: t('listings') },
            ...(user.role === 'agency_admin' ? [{ to: '/agency', label: t('agency') }] : []),
          ]
        : [
            { to: '/listings', label: t('browse') },
            { to: '/chats', label: t('chats'), badge: unread },
          ];

  let main: ReactNode;
  if (path === '/profile') main = <Profile user={user} />;
  else if (user.role === 'operator') main = <OperatorApp user={user} />;
  else if (staff) main = <AgentApp user={user} />;
  else main = <BuyerApp user={user} />;

  return (
    <div className={`shell role-${user.role}`}>
      <a className="skip-link" href="#main">
        {tc('skipToContent')}
      </a>
      <header className="topbar">
        <Link to="/" className="brand" aria-label={t('home')}>
          <img src="/favicon.svg" alt="" width={28} height={28} />
          <span>Puente</span>
        </Link>
        <nav aria-label={tc('mainNav')} className="mainnav">
          {nav.map((n) => {
            const active = path === n.to || path.startsWith(`${n.to}/`);
            return (
              <Link key={n.to} to={n.to} className={`navlink${active ? ' active' : ''}`} aria-current={active ? 'page' : undefined}>
                <span>{n.label}</span>
                {n.badge ? (
                  <span className="badge" aria-label={t('unreadBadge', { n: n.badge })}>
                    {n.badge > 99 ? '99+' : n.badge}
                  </span>
                ) : null}
              </Link>
            );
          })}
        </nav>
        <div className="usermenu">
          <label className="visually-hidden" htmlFor="lang-switch">
            {tc('language')}
          </label>
          <select id="lang-switch" className="lang" value={lang} onChange={(e) => setLocale(e.target.value as 'en' | 'es')}>
            <option value="en">EN</option>
            <option value="es">ES</option>
          </select>
          <Link to="/profile" className="navlink me" aria-label={t('yourProfile', { name: user.display_name })}>
            <Avatar name={user.display_name} size={32} />
            <span className="me-name">{user.display_name}</span>
          </Link>
          <button type="button" className="btn btn-ghost btn-small" onClick={() => void session.logout()}>
            {tc('signOut')}
          </button>
        </div>
      </header>
      <ConnectionBanner />
      <main id="main" className="main" tabIndex={-1}>
        <ErrorBoundary>
          <Suspense
            fallback={
              <div className="splash">
                <Spinner />
              </div>
            }
          >
            {main}
          </Suspense>
        </ErrorBoundary>
      </main>
    </div>
  );
}
