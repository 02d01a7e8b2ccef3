// Signed out: sign in, or create an account (buyer, new agency, agent with an invite).
import { useState, type FormEvent } from 'react';
import { navigate, useRoute, Link } from '../../router';
import { useT, useLocale, setLocale } from '../../i18n';
import { authMessages as m } from './messages';
import { session } from '../../session/session';
import { ApiError, fieldMessage, problemMessage } from '../../api/problem';
import { ErrorText, Field } from '../../ui/controls';
import { common } from '../../i18n/common';

export function AuthScreens({ reason }: { reason?: string | undefined }) {
  const { path } = useRoute();
  const signUp = path.startsWith('/signup') || path.startsWith('/join');
  return (
    <div className="auth-page">
      <div className="auth-card">
        <div className="auth-brand">
          <img src="/favicon.svg" alt="" width={40} height={40} />
          <h1>Puente</h1>
        </div>
        <LanguageSwitch />
        {signUp ? <SignUp /> : <SignIn reason={reason} />}
      </div>
    </div>
  );
}

function LanguageSwitch() {
  const lang = useLocale();
  const tc = useT(common);
  return (
    <div className="lang-row" role="group" aria-label={tc('language')}>
      <button type="button" className={`chip${lang === 'en' ? ' chip-on' : ''}`} aria-pressed={lang === 'en'} onClick={() => setLocale('en')}>
        {tc('english')}
      </button>
      <button type="button" className={`chip${lang === 'es' ? ' chip-on' : ''}`} aria-pressed={lang === 'es'} onClick={() => setLocale('es')}>
        {tc('spanish')}
      </button>
    </div>
  );
}

function reasonText(t: ReturnType<typeof useT<keyof typeof m.en>>, reason: string): string {
  const key = `expired_${reason}` as keyof typeof m.en;
  return key in m.en ? t(key) : t('expired_default');
}

export function SignIn({ reason }: { reason?: string | undefined }) {
  const t = useT(m);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await session.login(email.trim(), password);
      if (!res.ok) setError(await ApiError.fromResponse(res));
      else if (location.pathname === '/signin' || location.pathname === '/') navigate('/', { replace: true });
    } catch {
      setError(ApiError.network());
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate aria-labelledby="signin-title">
      <h2 id="signin-title">{t('signInTitle')}</h2>
      <p className="muted">{t('tagline')}</p>
      {reason && !error && (
        <p className="notice" role="status">
          {reasonText(t, reason)}
        </p>
      )}
      <Field label={t('email')} type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
      <Field
        label={t('password')}
        type="password"
        name="password"
        autoComplete="current-password"
        required
        value={password}
        onChange={(e) => setPassword(e.target.value)}
      />
      <ErrorText>{error ? problemMessage(error) : null}</ErrorText>
      <button type="submit" className="btn btn-primary btn-block" disabled={busy || !email || !password}>
        {busy ? t('signingIn') : t('signIn')}
      </button>
      <p className="auth-switch">
        {t('noAccount')} <Link to="/signup">{t('createAccount')}</Link>
      </p>
    </form>
  );
}

type Kind = 'buyer' | 'agency_admin' | 'agent';

export function SignUp() {
  const t = useT(m);
  const { query, path } = useRoute();
  const invite = query.get('invite') ?? '';
  const [kind, setKind] = useState<Kind>(invite || path.startsWith('/join') ? 'agent' : 'buyer');
  const [form, setForm] = useState({ display_name: '', email: '', password: '', phone: '', agency_name: '', invite_code: invite });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: Record<string, unknown> = {
      account_type: kind,
      display_name: form.display_name.trim(),
      email: form.email.trim(),
      password: form.password,
    };
    if (form.phone.trim()) body.phone = form.phone.trim();
    if (kind === 'agency_admin') body.agency_name = form.agency_name.trim();
    if (kind === 'agent') body.invite_code = form.invite_code.trim();
    try {
      const res = await session.register(body);
      if (!res.ok) setError(await ApiError.fromResponse(res));
      else navigate('/', { replace: true });
    } catch {
      setError(ApiError.network());
    } finally {
      setBusy(false);
    }
  }

  const kinds: { k: Kind; label: string; hint: string }[] = [
    { k: 'buyer', label: t('typeBuyer'), hint: t('typeBuyerHint') },
    { k: 'agency_admin', label: t('typeAgency'), hint: t('typeAgencyHint') },
    { k: 'agent', label: t('typeAgent'), hint: t('typeAgentHint') },
  ];
  const fe = (f: string) => fieldMessage(error, f);
  const general = error && !(error instanceof ApiError && error.code === 'validation_failed') ? problemMessage(error) : null;

  return (
    <form onSubmit={submit} noValidate aria-labelledby="signup-title">
      <h2 id="signup-title">{t('signUpTitle')}</h2>
      <fieldset className="kind-picker">
        <legend>{t('accountType')}</legend>
        {kinds.map((x) => (
          <label key={x.k} className={`kind${kind === x.k ? ' kind-on' : ''}`}>
            <input type="radio" name="account_type" value={x.k} checked={kind === x.k} onChange={() => setKind(x.k)} />
            <span className="kind-label">{x.label}</span>
            <span className="kind-hint">{x.hint}</span>
          </label>
        ))}
      </fieldset>
      <Field label={t('displayName')} name="display_name" autoComplete="name" required value={form.display_name} onChange={set('display_name')} error={fe('display_name')} />
      <Field label={t('email')} type="email" name="email" autoComplete="email" required value={form.email} onChange={set('email')} error={fe('email')} />
      <Field
        label={t('password')}
        type="password"
        name="password"
        autoComplete="new-password"
        required
        minLength={10}
        value={form.password}
        onChange={set('password')}
        hint={t('passwordHint')}
        error={fe('password')}
      />
      <Field label={t('phone')} type="tel" name="phone" autoComplete="tel" value={form.phone} onChange={set('phone')} hint={t('phoneHint')} error={fe('phone')} />
      {kind === 'agency_admin' && (
        <Field label={t('agencyName')} name="agency_name" required value={form.agency_name} onChange={set('agency_name')} error={fe('agency_name')} />
      )}
      {kind === 'agent' && (
        <Field label={t('inviteCode')} name="invite_code" required value={form.invite_code} onChange={set('invite_code')} error={fe('invite_code')} />
      )}
      <ErrorText>{general}</ErrorText>
      <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
        {busy ? t('signingUp') : t('signUp')}
      </button>
      <p className="auth-switch">
        {t('haveAccount')} <Link to="/signin">{t('signIn')}</Link>
      </p>
    </form>
  );
}
