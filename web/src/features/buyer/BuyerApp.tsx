// The buyer's app (phone first): browse and search homes, a home's page, and their chats
// with agents.
//   /                → /listings
//   /listings        search (filters in the query)
//   /listings/:id    one home
//   /chats           conversations;  /chats/:id  one conversation
import { useEffect } from 'react';
import type { User } from '../../session/session';
import { Link, match, navigate, useRoute } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { Empty } from '../../ui/controls';
import { ErrorBoundary } from '../../ui/ErrorBoundary';
import { ListingSearch } from './ListingSearch';
import { ListingPage } from './ListingPage';
import { Chats } from './Chats';
import '../listings/listings.css';
import './buyer.css';

export function BuyerApp({ user }: { user: User }) {
  const { path } = useRoute();
  const tc = useT(common);
  useEffect(() => {
    if (path === '/' || path === '') navigate('/listings', { replace: true });
  }, [path]);

  if (path === '/' || path === '' || path === '/listings') {
    return (
      <ErrorBoundary inline>
        <ListingSearch />
      </ErrorBoundary>
    );
  }
  const one = match('/listings/:id', path);
  if (one?.id) {
    return (
      <ErrorBoundary inline>
        <ListingPage key={one.id} id={one.id} />
      </ErrorBoundary>
    );
  }
  if (path === '/chats') return <Chats user={user} openId={null} />;
  const chat = match('/chats/:id', path);
  if (chat?.id) return <Chats user={user} openId={chat.id} />;
  return (
    <div className="page">
      <Empty title={tc('notFound')}>
        <p>{tc('notFoundBody')}</p>
        <Link to="/listings" className="btn btn-primary">
          {tc('goHome')}
        </Link>
      </Empty>
    </div>
  );
}
