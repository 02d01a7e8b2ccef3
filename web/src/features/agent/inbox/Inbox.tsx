// The agent's live inbox (`/inbox`, `/inbox/:id`): WhatsApp and in-app conversations in one
// virtualised list with filters and full-text search, the open thread beside it (phones:
// the list or the thread, with a back button), keyboard shortcuts, and alerts for messages
// that arrive while the tab is in the background.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api, unwrap, type Schemas } from '../../../api/client';
import { problemMessage } from '../../../api/problem';
import { useT } from '../../../i18n';
import { common } from '../../../i18n/common';
import { formatListTime } from '../../../lib/format';
import { useStore } from '../../../lib/store';
import { navigate, useRoute } from '../../../router';
import type { User } from '../../../session/session';
import { Dialog, Empty, Spinner } from '../../../ui/controls';
import { ErrorBoundary } from '../../../ui/ErrorBoundary';
import { toast } from '../../../ui/toast';
import { VirtualList } from '../../../ui/VirtualList';
import { Menu } from '../../chat/Menu';
import { askPermission, dismissOffer, notifySettings, setSound, useMessageAlerts } from '../../chat/notify';
import { Thread } from '../../chat/Thread';
import { ChannelIcon, ConversationRow } from './ConversationRow';
import { NewChatDialog } from './NewChatDialog';
import { displayName, NO_FILTERS, type ConversationView, type Filters } from './listModel';
import { m as cat } from './messages';
import { useConversations } from './useConversations';
import './inbox.css';

const ROW_HEIGHT = 76;

function useMediaQuery(q: string): boolean {
  const get = () => typeof window !== 'undefined' && !!window.matchMedia?.(q).matches;
  const [v, setV] = useState(get);
  useEffect(() => {
    const mq = window.matchMedia?.(q);
    if (!mq) return;
    const f = () => setV(mq.matches);
    mq.addEventListener('change', f);
    return () => mq.removeEventListener('change', f);
  }, [q]);
  return v;
}

/** Is a keyboard event aimed at something the user types into? */
function typingTarget(e: KeyboardEvent): boolean {
  const el = e.target as HTMLElement | null;
  if (!el) return false;
  const tag = el.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable;
}

export function Inbox({ user, conversationId }: { user: User; conversationId?: string | undefined }) {
  const t = useT(cat);
  const route = useRoute();
  const focusMessageId = route.query.get('m') ?? undefined;
  const phone = useMediaQuery('(max-width: 720px)');
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [query, setQuery] = useState('');
  const [helpOpen, setHelpOpen] = useState(false);
  const [newChatOpen, setNewChatOpen] = useState(false);
  const search = useRef<HTMLInputElement>(null);
  const conv = useConversations(user, filters, conversationId);
  const { list } = conv;

  // Every conversation seen, for names in notifications and search results.
  const known = useRef(new Map<string, ConversationView>());
  for (const c of list) known.current.set(c.id, c);
  const unknownName = t('unknownContact');
  const nameOf = useCallback((id: string) => {
    const c = known.current.get(id);
    return c ? displayName(c, unknownName) : undefined;
  }, [unknownName]);
  const pathOf = useCallback((id: string) => `/inbox/${id}`, []);
  useMessageAlerts(user, nameOf, pathOf);

  // The last conversation opened stays the list's current row after going back (phones).
  const lastOpen = useRef<string | undefined>(conversationId);
  if (conversationId) lastOpen.current = conversationId;
  const currentId = conversationId ?? lastOpen.current;
  const activeIndex = currentId ? list.findIndex((c) => c.id === currentId) : -1;
  useEffect(() => {
    if (conversationId || !lastOpen.current) return;
    const id = lastOpen.current;
    requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-conversation-id="${CSS.escape(id)}"]`)?.focus());
  }, [conversationId]);
  const open = useCallback((id: string) => navigate(`/inbox/${id}`), []);
  const openConv = conversationId ? list.find((c) => c.id === conversationId) : undefined;

  const archiveToggle = useCallback(
    async (c: ConversationView) => {
      const action = c.status === 'open' ? 'archive' : 'unarchive';
      try {
        const v = await unwrap(api.POST(`/api/v1/conversations/{id}/${action}`, { params: { path: { id: c.id } } }));
        conv.upsert(v);
        toast(action === 'archive' ? t('archived') : t('unarchived'), 'success', {
          label: t('undo'),
          run: () =>
            void unwrap(api.POST(`/api/v1/conversations/{id}/${action === 'archive' ? 'unarchive' : 'archive'}`, { params: { path: { id: c.id } } })).then(
              conv.upsert,
              (e: unknown) => toast(problemMessage(e), 'error'),
            ),
        });
      } catch (e) {
        toast(problemMessage(e), 'error');
      }
    },
    [conv, t],
  );

  const markUnread = useCallback(
    async (id: string) => {
      try {
        await unwrap(api.POST('/api/v1/conversations/{id}/unread', { params: { path: { id } } }));
        void conv.refresh(id);
        toast(t('markedUnread'), 'success');
        // Staying would read it again at once: back to the list, as chat apps do.
        navigate('/inbox');
      } catch (e) {
        toast(problemMessage(e), 'error');
      }
    },
    [conv, t],
  );

  // Keyboard shortcuts; never while typing in a field (Escape leaves the field).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented) return;
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        search.current?.focus();
        search.current?.select();
        return;
      }
      if (document.querySelector('dialog[open]')) return;
      if (typingTarget(e)) {
        if (e.key === 'Escape' && e.target === search.current) {
          setQuery('');
          search.current?.blur();
        }
        return;
      }
      if (e.ctrlKey || e.metaKey) return;
      const step = (d: number) => {
        if (list.length === 0) return;
        const i = activeIndex < 0 ? (d > 0 ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, activeIndex + d));
        const c = list[i];
        if (c) open(c.id);
      };
      if ((e.altKey && e.key === 'ArrowDown') || (!e.altKey && e.key === 'j')) {
        e.preventDefault();
        step(1);
      } else if ((e.altKey && e.key === 'ArrowUp') || (!e.altKey && e.key === 'k')) {
        e.preventDefault();
        step(-1);
      } else if (e.altKey) {
        return;
      } else if (e.key === '/') {
        e.preventDefault();
        search.current?.focus();
      } else if (e.key === 'c' || e.key === 'r') {
        const box = document.querySelector<HTMLTextAreaElement>('[data-composer]');
        if (box) {
          e.preventDefault();
          box.focus();
        }
      } else if (e.key === 'e' && openConv && openConv.status !== 'closed') {
        e.preventDefault();
        void archiveToggle(openConv);
      } else if (e.key === 'u' && openConv) {
        e.preventDefault();
        void markUnread(openConv.id);
      } else if (e.key === '?') {
        e.preventDefault();
        setHelpOpen(true);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [list, activeIndex, open, openConv, archiveToggle, markUnread]);

  const showList = !phone || !conversationId;
  const showThread = !phone || !!conversationId;
  const filtered = filters !== NO_FILTERS;

  return (
    <div className={`inbox${conversationId ? ' inbox-has-thread' : ''}`}>
      {newChatOpen && (
        <NewChatDialog
          onClose={() => setNewChatOpen(false)}
          onOpened={(id) => {
            setNewChatOpen(false);
            conv.reload();
            navigate(`/inbox/${id}`);
          }}
        />
      )}
      {showList && (
        <aside className="inbox-list" aria-label={t('conversations')}>
          <div className="inbox-list-head">
            <h1 className="inbox-title">{t('inbox')}</h1>
            {user.role !== 'operator' && user.role !== 'buyer' && (
              <button type="button" className="icon-btn" aria-label={t('newChat')} title={t('newChat')} onClick={() => setNewChatOpen(true)}>
                <span aria-hidden="true">✎</span>
              </button>
            )}
            <button type="button" className="icon-btn" aria-label={t('showShortcuts')} onClick={() => setHelpOpen(true)}>
              <span aria-hidden="true">⌨</span>
            </button>
            <NotifyMenu />
          </div>
          <div className="inbox-search" role="search">
            <label className="visually-hidden" htmlFor="inbox-search">
              {t('searchLabel')}
            </label>
            <input
              ref={search}
              id="inbox-search"
              type="search"
              className="input"
              placeholder={t('searchPlaceholder')}
              value={query}
              autoComplete="off"
              maxLength={200}
              onChange={(e) => setQuery(e.target.value)}
            />
          </div>
          {query.trim() ? (
            <SearchResults q={query.trim()} known={known.current} onOpen={(cid, mid) => navigate(`/inbox/${cid}?m=${mid}`)} />
          ) : (
            <>
              <FilterBar user={user} filters={filters} onChange={setFilters} />
              <NotifyOffer />
              <ErrorBoundary inline>
                {conv.loading ? (
                  <div className="inbox-center">
                    <Spinner />
                  </div>
                ) : conv.error ? (
                  <div className="inbox-center" role="alert">
                    <p>{problemMessage(conv.error)}</p>
                    <button type="button" className="btn" onClick={conv.reload}>
                      {t('loadFailed')}
                    </button>
                  </div>
                ) : list.length === 0 ? (
                  <Empty title={filtered ? t('emptyFiltered') : t('empty')}>
                    {filtered ? (
                      <button type="button" className="btn btn-small" onClick={() => setFilters(NO_FILTERS)}>
                        {t('clearFilters')}
                      </button>
                    ) : (
                      <p>{t('emptyHint')}</p>
                    )}
                  </Empty>
                ) : (
                  <VirtualConversationList
                    list={list}
                    activeId={conversationId}
                    activeIndex={activeIndex}
                    meId={user.id}
                    showAgent={user.role === 'agency_admin'}
                    onEnd={conv.hasMore ? conv.loadMore : undefined}
                    loadingMore={conv.loadingMore}
                  />
                )}
              </ErrorBoundary>
            </>
          )}
        </aside>
      )}
      {showThread && (
        <section className="inbox-thread" aria-label={openConv ? displayName(openConv, t('unknownContact')) : t('pickConversation')}>
          {conversationId ? (
            <Thread
              key={conversationId}
              conversationId={conversationId}
              user={user}
              focusMessageId={focusMessageId}
              onBack={phone ? () => navigate('/inbox') : undefined}
              onConversationChange={conv.upsert}
              onMarkUnread={() => markUnread(conversationId)}
            />
          ) : (
            <div className="inbox-pick">
              <Empty title={t('pickConversation')}>
                <p>{t('pickConversationHint')}</p>
              </Empty>
            </div>
          )}
        </section>
      )}
      <ShortcutsHelp open={helpOpen} onClose={() => setHelpOpen(false)} />
    </div>
  );
}

function VirtualConversationList({
  list,
  activeId,
  activeIndex,
  meId,
  showAgent,
  onEnd,
  loadingMore,
}: {
  list: ConversationView[];
  activeId: string | undefined;
  activeIndex: number;
  meId: string;
  showAgent: boolean;
  onEnd: (() => void) | undefined;
  loadingMore: boolean;
}) {
  const t = useT(cat);
  // One row is in the tab order (the open one, else the first); arrows move between rows.
  const focusIndex = activeIndex >= 0 ? activeIndex : 0;
  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    if (e.altKey) return;
    const row = (e.target as HTMLElement).closest('li');
    const next = (e.key === 'ArrowDown' ? row?.nextElementSibling : row?.previousElementSibling)?.querySelector<HTMLElement>('a');
    if (next) {
      e.preventDefault();
      next.focus();
    }
  };
  return (
    <div className="inbox-vlist" onKeyDown={onKeyDown}>
      <VirtualList
        items={list}
        rowHeight={ROW_HEIGHT}
        getKey={(c) => c.id}
        activeIndex={activeIndex}
        onEndReached={onEnd}
        label={t('conversations')}
        renderRow={(c, i) => <ConversationRow c={c} active={c.id === activeId} meId={meId} focusable={i === focusIndex} showAgent={showAgent} />}
        footer={
          loadingMore ? (
            <div className="inbox-center">
              <Spinner label={t('loadingMore')} />
            </div>
          ) : null
        }
      />
    </div>
  );
}

/** The agency's staff an admin can narrow the inbox to, by name (deactivated ones too: their
 *  conversations stay until reassigned). */
export function agentChoices(staff: readonly Schemas['UserDto'][]): Schemas['UserDto'][] {
  return staff.filter((u) => u.role === 'agent' || u.role === 'agency_admin').sort((a, b) => a.display_name.localeCompare(b.display_name));
}

export function FilterBar({ user, filters, onChange }: { user: User; filters: Filters; onChange: (f: Filters) => void }) {
  const t = useT(cat);
  const admin = user.role === 'agency_admin';
  const [listings, setListings] = useState<Schemas['PropertyDto'][]>([]);
  const [agents, setAgents] = useState<Schemas['UserDto'][]>([]);
  useEffect(() => {
    const q = admin ? { agency: true, limit: 100 } : { mine: true, limit: 100 };
    unwrap(api.GET('/api/v1/properties', { params: { query: q } })).then(
      (p) => setListings(p.items),
      () => setListings([]),
    );
  }, [admin]);
  useEffect(() => {
    if (!admin) return;
    unwrap(api.GET('/api/v1/agency/agents')).then(
      (staff) => setAgents(agentChoices(staff)),
      () => setAgents([]),
    );
  }, [admin]);
  const set = (patch: Partial<Filters>) => onChange({ ...filters, ...patch });
  return (
    <div className="inbox-filters" role="group" aria-label={t('filters')}>
      <button type="button" className="chip" aria-pressed={filters.unread} onClick={() => set({ unread: !filters.unread })}>
        {t('unreadOnly')}
      </button>
      <label className="visually-hidden" htmlFor="f-channel">
        {t('channel')}
      </label>
      <select id="f-channel" className="filter-select" value={filters.channel} onChange={(e) => set({ channel: e.target.value as Filters['channel'] })}>
        <option value="">{t('allChannels')}</option>
        <option value="whatsapp">{t('whatsapp')}</option>
        <option value="in_app">{t('inApp')}</option>
      </select>
      <label className="visually-hidden" htmlFor="f-status">
        {t('status')}
      </label>
      <select id="f-status" className="filter-select" value={filters.status} onChange={(e) => set({ status: e.target.value as Filters['status'] })}>
        <option value="">{t('statusInbox')}</option>
        <option value="open">{t('statusOpen')}</option>
        <option value="archived">{t('statusArchived')}</option>
        <option value="closed">{t('statusClosed')}</option>
      </select>
      {admin && agents.length > 0 && (
        <>
          <label className="visually-hidden" htmlFor="f-agent">
            {t('agent')}
          </label>
          <select id="f-agent" className="filter-select" value={filters.agentId} onChange={(e) => set({ agentId: e.target.value })}>
            <option value="">{t('allAgents')}</option>
            {agents.map((a) => (
              <option key={a.id} value={a.id}>
                {a.active ? a.display_name : t('inactiveAgent', { name: a.display_name })}
              </option>
            ))}
          </select>
        </>
      )}
      {listings.length > 0 && (
        <>
          <label className="visually-hidden" htmlFor="f-listing">
            {t('listing')}
          </label>
          <select id="f-listing" className="filter-select" value={filters.propertyId} onChange={(e) => set({ propertyId: e.target.value })}>
            <option value="">{t('allListings')}</option>
            {listings.map((l) => (
              <option key={l.id} value={l.id}>
                {l.title}
              </option>
            ))}
          </select>
        </>
      )}
    </div>
  );
}

/** Highlight the query's words in a snippet (as text, never HTML). */
function Highlighted({ text, q }: { text: string; q: string }) {
  const words = q
    .toLowerCase()
    .split(/[\s"]+/)
    .filter((w) => w.length > 1 && w !== 'or' && !w.startsWith('-'))
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (words.length === 0) return <>{text}</>;
  const re = new RegExp(`(${words.join('|')})`, 'gi');
  return (
    <>
      {text.split(re).map((p, i) => (i % 2 === 1 ? <mark key={i}>{p}</mark> : <span key={i}>{p}</span>))}
    </>
  );
}

function SearchResults({ q, known, onOpen }: { q: string; known: Map<string, ConversationView>; onOpen: (cid: string, mid: string) => void }) {
  const t = useT(cat);
  const [hits, setHits] = useState<Schemas['SearchHit'][] | null>(null);
  const [err, setErr] = useState<unknown>(undefined);
  const [extra, setExtra] = useState<Map<string, ConversationView>>(() => new Map());
  useEffect(() => {
    let live = true;
    setErr(undefined);
    const tm = setTimeout(() => {
      setHits(null);
      unwrap(api.GET('/api/v1/search', { params: { query: { q, limit: 50 } } })).then(
        (h) => live && setHits(h),
        (e: unknown) => live && setErr(e),
      );
    }, 250);
    return () => {
      live = false;
      clearTimeout(tm);
    };
  }, [q]);
  // Names of conversations not loaded in the list.
  useEffect(() => {
    if (!hits) return;
    const missing = [...new Set(hits.map((h) => h.conversation_id))].filter((id) => !known.has(id) && !extra.has(id)).slice(0, 20);
    for (const id of missing) {
      void unwrap(api.GET('/api/v1/conversations/{id}', { params: { path: { id } } })).then(
        (v) => setExtra((m) => new Map(m).set(id, v)),
        () => undefined,
      );
    }
  }, [hits, known, extra]);
  const tc = useT(common);
  if (err) return <p className="inbox-center form-error">{problemMessage(err)}</p>;
  if (!hits)
    return (
      <div className="inbox-center">
        <Spinner label={t('searching')} />
      </div>
    );
  return (
    <div className="search-results">
      <p className="muted small search-count" aria-live="polite">
        {hits.length === 0 ? t('noResults', { q }) : hits.length === 1 ? t('resultsOne') : t('results', { n: hits.length })}
      </p>
      <ul>
        {hits.map((h) => {
          const v = known.get(h.conversation_id) ?? extra.get(h.conversation_id);
          const name = v ? displayName(v, t('unknownContact')) : tc('loading');
          return (
            <li key={h.message.id}>
              <button type="button" className="search-hit" onClick={() => onOpen(h.conversation_id, h.message.id)}>
                <span className="conv-top">
                  <span className="conv-name truncate">
                    {v && <ChannelIcon channel={v.channel} />} {name}
                  </span>
                  <time className="conv-time" dateTime={h.message.sent_at}>
                    {formatListTime(h.message.sent_at)}
                  </time>
                </span>
                <span className="search-snippet">
                  {h.message.kind === 'note' && <span className="tag tag-warn">{t('noteHit')}</span>} <Highlighted text={h.message.body ?? ''} q={q} />
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function NotifyMenu() {
  const t = useT(cat);
  const s = useStore(notifySettings);
  const desktop =
    s.permission === 'granted'
      ? { label: t('desktopOn'), run: () => undefined }
      : s.permission === 'denied'
        ? { label: t('desktopBlocked'), run: () => undefined }
        : s.permission === 'unsupported'
          ? { label: t('desktopUnsupported'), run: () => undefined }
          : { label: t('desktopOff'), run: () => void askPermission() };
  return (
    <Menu
      label={t('notifications')}
      icon={
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
          <path d="M6 16V11a6 6 0 0112 0v5l2 2H4l2-2zM10 20a2 2 0 004 0" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinejoin="round" />
        </svg>
      }
      items={[
        { label: desktop.label, onSelect: desktop.run },
        { label: s.sound ? t('soundOn') : t('soundOff'), onSelect: () => setSound(!s.sound) },
      ]}
    />
  );
}

function NotifyOffer() {
  const t = useT(cat);
  const s = useStore(notifySettings);
  if (s.permission !== 'default' || s.dismissed) return null;
  return (
    <div className="notify-offer">
      <span className="grow small">{t('offerText')}</span>
      <button type="button" className="btn btn-small btn-primary" onClick={() => void askPermission()}>
        {t('offerTurnOn')}
      </button>
      <button type="button" className="btn btn-small btn-ghost" onClick={dismissOffer}>
        {t('offerLater')}
      </button>
    </div>
  );
}

function ShortcutsHelp({ open, onClose }: { open: boolean; onClose: () => void }) {
  const t = useT(cat);
  const rows = useMemo(
    () => [
      [['j', 'Alt+↓'], t('kNext')],
      [['k', 'Alt+↑'], t('kPrev')],
      [['/', 'Ctrl+K'], t('kSearch')],
      [['c', 'r'], t('kCompose')],
      [['e'], t('kArchive')],
      [['u'], t('kUnread')],
      [['Enter'], t('kSend')],
      [['Esc'], t('kEscape')],
      [['?'], t('kHelp')],
    ] as const,
    [t],
  );
  return (
    <Dialog open={open} title={t('shortcuts')} onClose={onClose}>
      <dl className="shortcuts">
        {rows.map(([keys, what]) => (
          <div key={what} className="shortcut">
            <dt>
              {keys.map((k, i) => (
                <span key={k}>
                  {i > 0 && <span className="muted"> {t('kOr')} </span>}
                  <kbd>{k}</kbd>
                </span>
              ))}
            </dt>
            <dd>{what}</dd>
          </div>
        ))}
      </dl>
    </Dialog>
  );
}
