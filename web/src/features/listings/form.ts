// The listing form's values, their checks (the same limits the API enforces, so people see
// every problem before sending) and the request bodies built from them.
import type { Schemas } from '../../api/client';
import { isPropertyType, parsePrice, priceInput } from './price';

export type Listing = Schemas['PropertyDto'];

export interface ListingForm {
  title: string;
  description: string;
  price: string;
  currency: string;
  address: string;
  city: string;
  property_type: string;
  status: string;
  /** The listing's agent; '' = the person creating it. Agency admins may choose. */
  agent_id: string;
}

export type FormField = keyof ListingForm;

/** Message keys (see messages.ts) per field, with the numbers they mention. */
export type FormErrors = Partial<Record<FormField, { key: FormErrorKey; n?: number }>>;
export type FormErrorKey = 'errRequired' | 'errTooLong' | 'errPrice' | 'errPriceTooHigh' | 'errCurrency' | 'errType' | 'errControl';

export const LIMITS = { title: 200, description: 10_000, address: 300, city: 100 } as const;
/** The API's highest price, in cents. */
export const MAX_PRICE_CENTS = 1_000_000_000_000_000;

export const emptyForm = (): ListingForm => ({
  title: '',
  description: '',
  price: '',
  currency: 'EUR',
  address: '',
  city: '',
  property_type: '',
  status: 'active',
  agent_id: '',
});

export function formOf(p: Listing): ListingForm {
  return {
    title: p.title,
    description: p.description,
    price: priceInput(p.price_cents),
    currency: p.currency,
    address: p.address,
    city: p.city,
    property_type: p.property_type,
    status: p.status,
    agent_id: p.agent_id,
  };
}

const len = (s: string) => [...s.trim()].length;
// eslint-disable-next-line no-control-regex
const CONTROL_LINE = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export function validate(f: ListingForm): FormErrors {
  const e: FormErrors = {};
  if (len(f.title) === 0) e.title = { key: 'errRequired' };
  else if (len(f.title) > LIMITS.title) e.title = { key: 'errTooLong', n: LIMITS.title };
  else if (CONTROL_LINE.test(f.title)) e.title = { key: 'errControl' };
  if (len(f.description) > LIMITS.description) e.description = { key: 'errTooLong', n: LIMITS.description };
  else if (CONTROL_TEXT.test(f.description)) e.description = { key: 'errControl' };
  if (!f.price.trim()) e.price = { key: 'errRequired' };
  else {
    const c = parsePrice(f.price);
    if (c === null) e.price = { key: 'errPrice' };
    else if (c > MAX_PRICE_CENTS) e.price = { key: 'errPriceTooHigh' };
  }
  if (!/^[A-Z]{3}$/.test(f.currency)) e.currency = { key: 'errCurrency' };
  if (len(f.address) > LIMITS.address) e.address = { key: 'errTooLong', n: LIMITS.address };
  else if (CONTROL_LINE.test(f.address)) e.address = { key: 'errControl' };
  if (len(f.city) === 0) e.city = { key: 'errRequired' };
  else if (len(f.city) > LIMITS.city) e.city = { key: 'errTooLong', n: LIMITS.city };
  else if (CONTROL_LINE.test(f.city)) e.city = { key: 'errControl' };
  if (!isPropertyType(f.property_type)) e.property_type = { key: 'errType' };
  return e;
}

export type CreateBody = Schemas['CreatePropertyRequest'];
export type UpdateBody = Schemas['UpdatePropertyRequest'];

export function createBody(f: ListingForm): CreateBody {
  return {
    title: f.title.trim(),
    description: f.description.trim(),
    price_cents: parsePrice(f.price) ?? 0,
    currency: f.currency,
    address: f.address.trim(),
    city: f.city.trim(),
    property_type: f.property_type,
    status: f.status,
    ...(f.agent_id ? { agent_id: f.agent_id } : {}),
  };
}

/** Only what changed, so a PATCH never overwrites a colleague's concurrent edit of another field. */
export function updateBody(before: Listing, f: ListingForm): UpdateBody {
  const next = createBody(f);
  const body: UpdateBody = {};
  if (next.title !== before.title) body.title = next.title;
  if (next.description !== before.description) body.description = next.description;
  if (next.price_cents !== before.price_cents) body.price_cents = next.price_cents;
  if (next.currency !== before.currency) body.currency = next.currency;
  if (next.address !== before.address) body.address = next.address;
  if (next.city !== before.city) body.city = next.city;
  if (next.property_type !== before.property_type) body.property_type = next.property_type;
  if (next.status !== before.status) body.status = next.status;
  if (f.agent_id && f.agent_id !== before.agent_id) body.agent_id = f.agent_id;
  return body;
}
