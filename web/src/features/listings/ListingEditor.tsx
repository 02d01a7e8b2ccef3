// One listing for its staff: the form (create or edit), its publication state (retire as
// sold / off the market, publish again) and, once it exists, its photos.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { User } from '../../session/session';
import { api, unwrap } from '../../api/client';
import { ApiError, problemMessage } from '../../api/problem';
import { serverFieldMessage } from './serverWords';
import { Link, navigate } from '../../router';
import { useT } from '../../i18n';
import { common } from '../../i18n/common';
import { Confirm, ErrorText, Field, Select, Spinner, TextArea } from '../../ui/controls';
import { toast } from '../../ui/toast';
import { useAsync } from '../../ui/useAsync';
import { m, listingWords } from './messages';
import { CURRENCIES, PROPERTY_TYPES, formatPrice, parsePrice } from './price';
import { createBody, emptyForm, formOf, updateBody, validate, LIMITS, type FormErrors, type FormField, type Listing, type ListingForm } from './form';
import { PhotoManager } from './PhotoManager';
import { statusTone } from './ListingsManager';
import { useStartAtTop } from './scroll';

export function ListingEditor({ user, id }: { user: User; id: string | null }) {
  useStartAtTop(id);
  const t = useT(m);
  const tc = useT(common);
  const loaded = useAsync<Listing | null>(
    () => (id ? unwrap(api.GET('/api/v1/properties/{id}', { params: { path: { id } } })) : Promise.resolve(null)),
    [id],
  );
  if (id && loaded.loading) {
    return (
      <div className="page narrow pl-center">
        <Spinner />
      </div>
    );
  }
  if (id && (loaded.error || !loaded.data)) {
    return (
      <div className="page narrow">
        <BackLink />
        <div className="card">
          <ErrorText>{problemMessage(loaded.error)}</ErrorText>
          <button type="button" className="btn" onClick={loaded.reload}>
            {tc('retry')}
          </button>
        </div>
      </div>
    );
  }
  const listing = loaded.data ?? null;
  return (
    <div className="page listing-editor">
      <BackLink />
      <h1>{listing ? t('editTitle') : t('newTitle')}</h1>
      <div className="editor-grid">
        <div className="editor-main">
          <ListingFormCard user={user} listing={listing} onSaved={(p) => loaded.setData(p)} />
        </div>
        {listing && (
          <div className="editor-side">
            <Publication listing={listing} onChanged={(p) => loaded.setData(p)} />
            <PhotoManager listing={listing} onChanged={(p) => loaded.setData(p)} />
          </div>
        )}
      </div>
    </div>
  );
}

function BackLink() {
  const t = useT(m);
  return (
    <p>
      <Link to="/listings" className="pl-back">
        ← {t('backToList')}
      </Link>
    </p>
  );
}

function ListingFormCard({ user, listing, onSaved }: { user: User; listing: Listing | null; onSaved: (p: Listing) => void }) {
  const t = useT(m);
  const tw = useT(listingWords);
  const admin = user.role === 'agency_admin';
  const team = useAsync(() => (admin ? unwrap(api.GET('/api/v1/agency/agents')) : Promise.resolve([])), [admin]);
  const agents = (team.data ?? []).filter((a) => a.active || a.id === listing?.agent_id);
  const [form, setForm] = useState<ListingForm>(() => (listing ? formOf(listing) : emptyForm()));
  const [errors, setErrors] = useState<FormErrors>({});
  const [serverErr, setServerErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const base = useRef(listing);
  // A save elsewhere on the page (status, photos) updates the listing; keep the form's edits.
  useEffect(() => {
    base.current = listing;
  }, [listing]);

  const set = (k: FormField) => (e: { target: { value: string } }) => {
    const v = e.target.value;
    setForm((f) => ({ ...f, [k]: v }));
    if (errors[k]) setErrors((x) => ({ ...x, [k]: undefined }));
  };
  const msg = (k: FormField): string | undefined => {
    const e = errors[k];
    if (e) return t(e.key, e.n !== undefined ? { n: e.n } : undefined);
    const api = k === 'price' ? 'price_cents' : k;
    return serverFieldMessage(serverErr, api);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setServerErr(null);
    const errs = validate(form);
    setErrors(errs);
    const first = (Object.keys(errs) as FormField[])[0];
    if (first) {
      formRef.current?.querySelector<HTMLElement>(`[name="${first}"]`)?.focus();
      return;
    }
    setBusy(true);
    try {
      const before = base.current;
      if (!before) {
        const created = await unwrap(api.POST('/api/v1/properties', { body: createBody(form) }));
        toast(t('created'), 'success');
        navigate(`/listings/${created.id}`, { replace: true });
      } else {
        const body = updateBody(before, form);
        if (Object.keys(body).length === 0) {
          toast(t('noChanges'), 'info');
        } else {
          const saved = await unwrap(api.PATCH('/api/v1/properties/{id}', { params: { path: { id: before.id } }, body }));
          onSaved(saved);
          setForm(formOf(saved));
          toast(t('savedToast'), 'success');
        }
      }
    } catch (err) {
      setServerErr(err);
      const named = err instanceof ApiError ? err.errors.map((x) => (x.field === 'price_cents' ? 'price' : x.field)) : [];
      const f = named[0];
      if (f) formRef.current?.querySelector<HTMLElement>(`[name="${f}"]`)?.focus();
    } finally {
      setBusy(false);
    }
  };

  const pricePreview = (() => {
    const c = parsePrice(form.price);
    return c !== null && /^[A-Z]{3}$/.test(form.currency) ? formatPrice(c, form.currency) : undefined;
  })();
  const currencies = CURRENCIES.includes(form.currency as (typeof CURRENCIES)[number]) ? [...CURRENCIES] : [form.currency, ...CURRENCIES];
  const hasErrors = Object.values(errors).some(Boolean);
  const descLeft = LIMITS.description - [...form.description].length;

  return (
    <form ref={formRef} className="card listing-form" onSubmit={submit} noValidate>
      {hasErrors && <ErrorText>{t('fixErrors')}</ErrorText>}
      {serverErr ? <ErrorText>{problemMessage(serverErr)}</ErrorText> : null}
      <Field label={t('fTitle')} name="title" value={form.title} onChange={set('title')} error={msg('title')} hint={t('fTitleHint')} maxLength={LIMITS.title + 50} required autoFocus={!listing} />
      <div className="form-row form-row-price">
        <Field
          label={t('fPrice')}
          name="price"
          inputMode="decimal"
          autoComplete="off"
          value={form.price}
          onChange={set('price')}
          error={msg('price')}
          hint={pricePreview ?? t('fPriceHint')}
          required
        />
        <Select label={t('fCurrency')} name="currency" value={form.currency} onChange={set('currency')}>
          {currencies.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </Select>
      </div>
      <div className="form-row">
        <div className="grow">
          <label className="field-label-only" htmlFor="listing-type">
            {t('fType')}
          </label>
          <select
            id="listing-type"
            name="property_type"
            className="input"
            value={form.property_type}
            onChange={set('property_type')}
            aria-invalid={msg('property_type') ? true : undefined}
            aria-describedby={msg('property_type') ? 'listing-type-err' : undefined}
            required
          >
            <option value="">{t('fChooseType')}</option>
            {PROPERTY_TYPES.map((p) => (
              <option key={p} value={p}>
                {tw(`type_${p}`)}
              </option>
            ))}
          </select>
          {msg('property_type') && (
            <small id="listing-type-err" className="field-error">
              {msg('property_type')}
            </small>
          )}
        </div>
        {!listing && (
          <Select label={t('fStatus')} name="status" value={form.status} onChange={set('status')}>
            {(['active', 'pending', 'inactive'] as const).map((s) => (
              <option key={s} value={s}>
                {tw(`status_${s}`)}
              </option>
            ))}
          </Select>
        )}
      </div>
      {admin && agents.length > 1 && (
        <Select label={t('fAgent')} name="agent_id" value={form.agent_id || (listing ? listing.agent_id : user.id)} onChange={set('agent_id')}>
          {agents.map((a) => (
            <option key={a.id} value={a.id}>
              {a.id === user.id ? t('meAgent', { name: a.display_name }) : a.display_name}
            </option>
          ))}
        </Select>
      )}
      {admin && msg('agent_id') && <p className="field-error">{msg('agent_id')}</p>}
      <div className="form-row">
        <Field label={t('fCity')} name="city" autoComplete="address-level2" value={form.city} onChange={set('city')} error={msg('city')} required />
        <Field label={t('fAddress')} name="address" autoComplete="street-address" value={form.address} onChange={set('address')} error={msg('address')} />
      </div>
      <TextArea label={t('fDescription')} name="description" rows={8} value={form.description} onChange={set('description')} error={msg('description')} />
      {descLeft < 500 && <p className="hint">{t('charsLeft', { n: Math.max(0, descLeft) })}</p>}
      <div className="row">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? t('saving') : listing ? t('saveChanges') : t('create')}
        </button>
      </div>
    </form>
  );
}

function Publication({ listing, onChanged }: { listing: Listing; onChanged: (p: Listing) => void }) {
  const t = useT(m);
  const tw = useT(listingWords);
  const [ask, setAsk] = useState<null | 'sold' | 'inactive'>(null);
  const [busy, setBusy] = useState(false);
  const statusWord = tw(`status_${listing.status}` as 'status_active');

  const change = async (status: string) => {
    setBusy(true);
    try {
      const p = await unwrap(api.PATCH('/api/v1/properties/{id}', { params: { path: { id: listing.id } }, body: { status } }));
      onChanged(p);
      toast(t('statusChanged', { status: tw(`status_${p.status}` as 'status_active') }), 'success');
      setAsk(null);
    } catch (err) {
      toast(problemMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="pub-h">
      <div className="row-between">
        <h2 id="pub-h">{t('lifecycle')}</h2>
        <span className={`tag ${statusTone(listing.status)}`}>{statusWord}</span>
      </div>
      <p className="muted small">{listing.status === 'active' ? t('isPublic') : t('isHidden', { status: statusWord })}</p>
      <div className="row">
        {listing.status !== 'active' && (
          <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void change('active')}>
            {t('reactivate')}
          </button>
        )}
        {listing.status === 'active' && (
          <button type="button" className="btn" disabled={busy} onClick={() => void change('pending')}>
            {t('markPending')}
          </button>
        )}
        {listing.status !== 'sold' && (
          <button type="button" className="btn" disabled={busy} onClick={() => setAsk('sold')}>
            {t('markSold')}
          </button>
        )}
        {listing.status !== 'inactive' && (
          <button type="button" className="btn btn-ghost pl-danger" disabled={busy} onClick={() => setAsk('inactive')}>
            {t('markInactive')}
          </button>
        )}
      </div>
      <Confirm
        open={ask !== null}
        title={t('retireTitle')}
        body={<p>{t('retireBody', { title: listing.title })}</p>}
        confirmLabel={ask === 'sold' ? t('retireSold') : t('retireInactive')}
        danger
        busy={busy}
        onConfirm={() => ask && void change(ask)}
        onClose={() => setAsk(null)}
      />
    </section>
  );
}
