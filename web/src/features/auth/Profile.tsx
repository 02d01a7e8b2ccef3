// The caller's own account: name, phone, password, language.
import { useState, type FormEvent } from 'react';
import type { User } from '../../session/session';
import { session } from '../../session/session';
import { api, unwrap } from '../../api/client';
import { useT, useLocale, setLocale } from '../../i18n';
import { common } from '../../i18n/common';
import { authMessages as m } from './messages';
import { ApiError, fieldMessage, problemMessage } from '../../api/problem';
import { ErrorText, Field, Select } from '../../ui/controls';
import { toast } from '../../ui/toast';

export function Profile({ user }: { user: User }) {
  const t = useT(m);
  const tc = useT(common);
  const lang = useLocale();
  const [name, setName] = useState(user.display_name);
  const [phone, setPhone] = useState(user.phone ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [pwBusy, setPwBusy] = useState(false);
  const [pwError, setPwError] = useState<unknown>(null);

  async function saveDetails(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await unwrap(api.PATCH('/api/v1/me', { body: { display_name: name.trim(), phone: phone.trim() ? phone.trim() : null } }));
      session.setUser(res.user);
      toast(t('profileSaved'), 'success');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  async function changePassword(e: FormEvent) {
    e.preventDefault();
    setPwBusy(true);
    setPwError(null);
    try {
      await unwrap(api.PATCH('/api/v1/me', { body: { current_password: current, new_password: next } }));
      // The change ends every session; sign this tab in again with the new password.
      const res = await session.login(user.email, next);
      if (!res.ok) throw await ApiError.fromResponse(res);
      setCurrent('');
      setNext('');
      toast(t('passwordChanged'), 'success');
    } catch (err) {
      setPwError(err);
    } finally {
      setPwBusy(false);
    }
  }

  const generic = (err: unknown) => (err && !(err instanceof ApiError && err.code === 'validation_failed') ? problemMessage(err) : null);

  return (
    <div className="page narrow">
      <h1>{t('profileTitle')}</h1>
      <section className="card" aria-labelledby="details-h">
        <h2 id="details-h">{t('profileDetails')}</h2>
        <dl className="facts">
          <dt>{t('email')}</dt>
          <dd>{user.email}</dd>
          <dt>{t('role')}</dt>
          <dd>{t(`role_${user.role}` as keyof typeof m.en)}</dd>
          {user.agency_name && (
            <>
              <dt>{t('agency')}</dt>
              <dd>{user.agency_name}</dd>
            </>
          )}
        </dl>
        <form onSubmit={saveDetails} noValidate>
          <Field label={t('displayName')} value={name} onChange={(e) => setName(e.target.value)} error={fieldMessage(error, 'display_name')} required />
          <Field label={t('phone')} type="tel" value={phone} onChange={(e) => setPhone(e.target.value)} hint={t('phoneHint')} error={fieldMessage(error, 'phone')} />
          <ErrorText>{generic(error)}</ErrorText>
          <button className="btn btn-primary" type="submit" disabled={busy}>
            {tc('save')}
          </button>
        </form>
      </section>
      <section className="card" aria-labelledby="pw-h">
        <h2 id="pw-h">{t('changePassword')}</h2>
        <form onSubmit={changePassword} noValidate>
          <Field
            label={t('currentPassword')}
            type="password"
            autoComplete="current-password"
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
            error={fieldMessage(pwError, 'current_password')}
          />
          <Field
            label={t('newPassword')}
            type="password"
            autoComplete="new-password"
            value={next}
            onChange={(e) => setNext(e.target.value)}
            hint={t('passwordHint')}
            error={fieldMessage(pwError, 'new_password')}
          />
          <ErrorText>{generic(pwError)}</ErrorText>
          <button className="btn" type="submit" disabled={pwBusy || !current || !next}>
            {t('changePassword')}
          </button>
        </form>
      </section>
      <section className="card" aria-labelledby="lang-h">
        <h2 id="lang-h">{tc('language')}</h2>
        <Select label={tc('language')} value={lang} onChange={(e) => setLocale(e.target.value as 'en' | 'es')}>
          <option value="en">{tc('english')}</option>
          <option value="es">{tc('spanish')}</option>
        </Select>
      </section>
    </div>
  );
}
