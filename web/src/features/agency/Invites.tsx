// Invites for new agents: create one (optionally for one email, valid 1–30 days), then copy
// its code or its sign-up link (`/join?invite=CODE`) — shown only then — and follow each
// invite's state (waiting, used by whom, expired).
import { useState, type FormEvent } from 'react';
import { api, unwrap, type Schemas } from '../../api/client';
import { fieldMessage, problemMessage } from '../../api/problem';
import { useT } from '../../i18n';
import { Dialog, Empty, ErrorText, Field, Select, Spinner } from '../../ui/controls';
import { toast } from '../../ui/toast';
import { useAsync } from '../../ui/useAsync';
import { formatDateTime } from '../../lib/format';
import { m } from './messages';
import { inviteState, joinLink } from './invite';

type Member = Schemas['UserDto'];
type Created = Schemas['InviteCreated'];

export function Invites({ team }: { team: Member[] }) {
  const t = useT(m);
  const list = useAsync(() => unwrap(api.GET('/api/v1/agency/invites')), []);
  const [email, setEmail] = useState('');
  const [hours, setHours] = useState('168');
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Created | null>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      const inv = await unwrap(
        api.POST('/api/v1/agency/invites', { body: { ...(email.trim() ? { email: email.trim() } : {}), expires_in_hours: Number(hours) } }),
      );
      setCreated(inv);
      setEmail('');
      list.reload();
    } catch (x) {
      setErr(x);
    } finally {
      setBusy(false);
    }
  };

  const nameOf = (id: string | null | undefined) => team.find((x) => x.id === id)?.display_name;
  const invites = list.data ?? [];

  return (
    <section className="card" aria-labelledby="invites-h">
      <h2 id="invites-h">{t('invites')}</h2>
      <p className="muted small">{t('invitesHint')}</p>
      <form className="invite-form" onSubmit={create} noValidate>
        <Field
          label={t('inviteEmail')}
          type="email"
          autoComplete="off"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          hint={t('inviteEmailHint')}
          error={fieldMessage(err, 'email')}
        />
        <Select label={t('inviteExpires')} value={hours} onChange={(e) => setHours(e.target.value)}>
          <option value="24">{t('hours24')}</option>
          <option value="72">{t('days3')}</option>
          <option value="168">{t('days7')}</option>
          <option value="720">{t('days30')}</option>
        </Select>
        <div className="invite-form-go">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? t('creating') : t('createInvite')}
          </button>
        </div>
      </form>
      {err && !fieldMessage(err, 'email') ? <ErrorText>{problemMessage(err)}</ErrorText> : null}

      {list.loading && !list.data ? (
        <div className="pl-center">
          <Spinner />
        </div>
      ) : list.error && !list.data ? (
        <ErrorText>{problemMessage(list.error)}</ErrorText>
      ) : invites.length === 0 ? (
        <Empty title={t('noInvites')} />
      ) : (
        <ul className="invite-list">
          {invites.map((i) => {
            const s = inviteState(i);
            const who = nameOf(i.used_by);
            return (
              <li key={i.id} className="invite-row">
                <div className="grow">
                  <strong>{i.email ? t('forEmail', { email: i.email }) : t('anyone')}</strong>
                  <div className="muted small">
                    {t('created', { when: formatDateTime(i.created_at) })}
                    {' · '}
                    {s === 'used' && i.used_at
                      ? who
                        ? t('usedBy', { name: who, when: formatDateTime(i.used_at) })
                        : t('usedOn', { when: formatDateTime(i.used_at) })
                      : s === 'expired'
                        ? t('expired')
                        : t('expires', { when: formatDateTime(i.expires_at) })}
                  </div>
                </div>
                <span className={`tag ${s === 'used' ? 'tag-ok' : s === 'expired' ? 'tag-bad' : 'tag-warn'}`}>
                  {s === 'used' ? t('used') : s === 'expired' ? t('expired') : t('pending')}
                </span>
              </li>
            );
          })}
        </ul>
      )}
      <Dialog
        open={created !== null}
        title={t('inviteReady')}
        onClose={() => setCreated(null)}
        footer={
          <button type="button" className="btn btn-primary" onClick={() => setCreated(null)}>
            {t('done')}
          </button>
        }
      >
        {created && <CreatedInvite inv={created} />}
      </Dialog>
    </section>
  );
}

function CreatedInvite({ inv }: { inv: Created }) {
  const t = useT(m);
  const link = joinLink(inv.code, location.origin);
  return (
    <div className="stack">
      <p>{t('inviteReadyBody')}</p>
      {inv.email && <p className="muted small">{t('forEmail', { email: inv.email })}</p>}
      <CopyRow label={t('code')} value={inv.code} button={t('copyCode')} mono />
      <CopyRow label={t('joinLink')} value={link} button={t('copyLink')} />
      <p className="muted small">{t('expires', { when: formatDateTime(inv.expires_at) })}</p>
    </div>
  );
}

function CopyRow({ label, value, button, mono }: { label: string; value: string; button: string; mono?: boolean }) {
  const t = useT(m);
  const [done, setDone] = useState(false);
  const id = `copy-${label.replace(/\W+/g, '-')}`;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setDone(true);
      setTimeout(() => setDone(false), 2000);
    } catch {
      toast(t('copyFailed'), 'error');
      (document.getElementById(id) as HTMLInputElement | null)?.select();
    }
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="copy-row">
        <input id={id} className={`input${mono ? ' invite-mono' : ''}`} readOnly value={value} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" className="btn" onClick={() => void copy()} aria-label={button}>
          {done ? t('copied') : t('copy')}
        </button>
      </div>
      <span className="visually-hidden" aria-live="polite">
        {done ? t('copied') : ''}
      </span>
    </div>
  );
}
