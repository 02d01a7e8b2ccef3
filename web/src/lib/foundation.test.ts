import { describe, expect, test } from 'vitest';
import { match } from '../router';
import { ApiError, fieldMessage, problemMessage } from '../api/problem';
import { defineMessages, interpolate, setLocale, translator } from '../i18n';
import { createStore } from './store';
import { formatDuration, formatListTime } from './format';

describe('router.match', () => {
  test('pulls parameters out and rejects other shapes', () => {
    expect(match('/inbox/:id', '/inbox/42')).toEqual({ id: '42' });
    expect(match('/inbox/:id', '/inbox')).toBeNull();
    expect(match('/inbox', '/inbox/42')).toBeNull();
    expect(match('/listings/*', '/listings/a/b')).toEqual({ '*': 'a/b' });
    expect(match('/u/:name', '/u/Jos%C3%A9')).toEqual({ name: 'José' });
  });
});

describe('problemMessage', () => {
  test('a rate limit says how long to wait, in the user’s language', () => {
    const err = new ApiError({ status: 429, code: 'rate_limited', detail: 'slow down', retryAfter: 42 });
    setLocale('en');
    expect(problemMessage(err)).toBe('Too many attempts. Wait 42 seconds and try again.');
    setLocale('es');
    expect(problemMessage(err)).toBe('Demasiados intentos. Espera 42 segundos y vuelve a intentarlo.');
    setLocale('en');
    const long = new ApiError({ status: 429, code: 'rate_limited', detail: '', retryAfter: 600 });
    expect(problemMessage(long)).toContain('10 minutes');
  });

  test('known codes get our words, unknown ones the server’s detail, 5xx the request id', () => {
    setLocale('en');
    expect(problemMessage(new ApiError({ status: 401, code: 'invalid_credentials', detail: 'x' }))).toMatch(/do not match/);
    expect(problemMessage(new ApiError({ status: 409, code: 'email_taken', detail: 'x' }))).toMatch(/already exists/);
    expect(problemMessage(new ApiError({ status: 422, code: 'brand_new_code', detail: 'The server says so.' }))).toBe('The server says so.');
    expect(problemMessage(new ApiError({ status: 500, code: 'internal_error', detail: '', requestId: 'req-1' }))).toContain('req-1');
    expect(problemMessage(new TypeError('Failed to fetch'))).toMatch(/could not be reached/);
  });

  test('field errors are translated when known', () => {
    const err = new ApiError({
      status: 422,
      code: 'validation_failed',
      detail: '',
      errors: [{ field: 'password', message: 'is too common' }, { field: 'x', message: 'something new' }],
    });
    setLocale('es');
    expect(fieldMessage(err, 'password')).toMatch(/demasiado común/);
    expect(fieldMessage(err, 'x')).toBe('something new');
    expect(fieldMessage(err, 'email')).toBeUndefined();
    setLocale('en');
  });

  test('builds from a problem response, with Retry-After', async () => {
    const res = new Response(JSON.stringify({ code: 'rate_limited', detail: 'later', request_id: 'abc' }), {
      status: 429,
      headers: { 'retry-after': '7', 'content-type': 'application/problem+json' },
    });
    const err = await ApiError.fromResponse(res);
    expect(err).toMatchObject({ status: 429, code: 'rate_limited', retryAfter: 7, requestId: 'abc' });
  });
});

describe('i18n', () => {
  test('interpolates and falls back to English for a missing translation', () => {
    expect(interpolate('Hola {name}, {n}', { name: 'Ana', n: 3 })).toBe('Hola Ana, 3');
    expect(interpolate('{missing}', {})).toBe('{missing}');
    const m = defineMessages({ en: { a: 'A {x}' }, es: { a: '' } });
    expect(translator(m, 'es')('a', { x: 1 })).toBe('A 1');
  });
});

describe('store', () => {
  test('notifies on change only', () => {
    const s = createStore(1);
    let calls = 0;
    const off = s.subscribe(() => calls++);
    s.set(1);
    s.set(2);
    s.set((x) => x + 1);
    off();
    s.set(10);
    expect(calls).toBe(2);
    expect(s.get()).toBe(10);
  });
});

describe('format', () => {
  test('durations and list times', () => {
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(3700)).toBe('1h 1m');
    expect(formatDuration(90000)).toBe('1d 1h');
    const now = new Date('2026-12-01T12:00:00');
    expect(formatListTime('2026-12-01T09:05:00', now)).toMatch(/09:05/);
  });
});
