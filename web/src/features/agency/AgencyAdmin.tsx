// The agency admin's screen: the team (agents and admins, active or not; deactivate and
// reactivate, confirmed) and the invites (create one, copy its code and sign-up link, see
// which were used or expired). The agency's conversations are the admin's inbox.
import { useState } from 'react';
import type { User } from '../../session/session';
import { api, unwrap, type Schemas } from '../../api/client';
import { problemMessage } from '../../api/problem';
import { Link } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { Avatar, Confirm, Empty, ErrorText, Spinner } from '../../ui/controls';
import { ErrorBoundary } from '../../ui/ErrorBoundary';
import { toast } from '../../ui/toast';
import { useAsync } from '../../ui/useAsync';
import { formatDateTime } from '../../lib/format';
import { m } from './messages';
import { Invites } from './Invites';
import './agency.css';

type Member = Schemas['UserDto'];

export function AgencyAdmin({ user }: { user: User }) {
  const t = useT(m);
  if (user.role !== 'agency_admin') {
    return (
      <div className="page narrow">
        <ErrorText>{t('notAdmin')}</ErrorText>
      </div>
    );
  }
  return (
    <div className="page agency-page">
      <h1>{t('title')}</h1>
      <p className="muted">{t('subtitle', { agency: user.agency_name ?? '' })}</p>
      <div className="agency-links">
        <Link to="/inbox" className="card agency-link">
          <span>{t('inboxLink')}</span>
          <span className="agency-link-go">{t('openInbox')} →</span>
        </Link>
        <Link to="/listings?view=agency" className="card agency-link">
          <span>{t('listingsLink')}</span>
          <span className="agency-link-go">{t('openListings')} →</span>
        </Link>
      </div>
      <Team user={user} />
    </div>
  );
}

function Team({ user }: { user: User }) {
  const t = useT(m);
  const tc = useT(common);
  const team = useAsync(() => unwrap(api.GET('/api/v1/agency/agents')), []);
  const [ask, setAsk] = useState<{ member: Member; active: boolean } | null>(null);
  const [busy, setBusy] = useState(false);

  const apply = async () => {
    if (!ask) return;
    setBusy(true);
    const { member, active } = ask;
    try {
      const path = { params: { path: { id: member.id } } };
      const updated = active
        ? await unwrap(api.POST('/api/v1/agency/agents/{id}/reactivate', path))
        : await unwrap(api.POST('/api/v1/agency/agents/{id}/deactivate', path));
      team.setData((prev) => (prev ?? []).map((x) => (x.id === updated.id ? updated : x)));
      toast(active ? t('reactivated', { name: member.display_name }) : t('deactivated', { name: member.display_name }), 'success');
      setAsk(null);
    } catch (err) {
      toast(problemMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };

  const members = (team.data ?? []).slice().sort((a, b) => Number(b.active) - Number(a.active) || a.display_name.localeCompare(b.display_name));
  const others = members.filter((x) => x.id !== user.id);

  return (
    <>
      <section className="card" aria-labelledby="team-h">
        <h2 id="team-h">
          {t('team')} {team.data && <span className="muted small">({members.length})</span>}
        </h2>
        {team.loading && !team.data ? (
          <div className="pl-center">
            <Spinner />
          </div>
        ) : team.error && !team.data ? (
          <>
            <ErrorText>{problemMessage(team.error)}</ErrorText>
            <button type="button" className="btn" onClick={team.reload}>
              {tc('retry')}
            </button>
          </>
        ) : (
          <>
            <ul className="team-list">
              {members.map((x) => (
                <li key={x.id} className={`team-member${x.active ? '' : ' team-member-off'}`}>
                  <Avatar name={x.display_name} size={40} />
                  <div className="team-member-main">
                    <div className="row">
                      <strong>{x.display_name}</strong>
                      {x.id === user.id && <span className="muted small">({t('you')})</span>}
                      <span className="tag">{x.role === 'agency_admin' ? t('role_agency_admin') : t('role_agent')}</span>
                      <span className={`tag ${x.active ? 'tag-ok' : 'tag-bad'}`}>{x.active ? t('active') : t('inactive')}</span>
                    </div>
                    <div className="muted small team-member-meta">
                      <a href={`mailto:${x.email}`}>{x.email}</a>
                      {x.phone ? <span> · {x.phone}</span> : null}
                      <span>
                        {' '}
                        · {t('joined')} {formatDateTime(x.created_at)}
                      </span>
                    </div>
                  </div>
                  {x.id !== user.id && (
                    <button
                      type="button"
                      className={`btn btn-small${x.active ? ' btn-ghost pl-danger' : ''}`}
                      onClick={() => setAsk({ member: x, active: !x.active })}
                      aria-label={`${x.active ? t('deactivate') : t('reactivate')}: ${x.display_name}`}
                    >
                      {x.active ? t('deactivate') : t('reactivate')}
                    </button>
                  )}
                </li>
              ))}
            </ul>
            {others.length === 0 && (
              <Empty title={t('noTeam')}>
                <p>{t('noTeamBody')}</p>
              </Empty>
            )}
          </>
        )}
      </section>
      <ErrorBoundary inline>
        <Invites team={team.data ?? []} />
      </ErrorBoundary>
      <Confirm
        open={ask !== null}
        title={ask ? (ask.active ? t('reactivateTitle', { name: ask.member.display_name }) : t('deactivateTitle', { name: ask.member.display_name })) : ''}
        body={ask ? <p>{ask.active ? t('reactivateBody', { name: ask.member.display_name }) : t('deactivateBody', { name: ask.member.display_name })}</p> : null}
        confirmLabel={ask?.active ? t('reactivate') : t('deactivate')}
        danger={ask ? !ask.active : false}
        busy={busy}
        onConfirm={() => void apply()}
        onClose={() => setAsk(null)}
      />
    </>
  );
}
