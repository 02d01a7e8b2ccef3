// Who is signed in, and their access token.
//
// The refresh token never reaches JavaScript: a web sign-in (`/api/v1/auth/web/*`) sets it
// as an HttpOnly, SameSite=Strict cookie scoped to the refresh path. The access token lives
// only in this module's memory and is refreshed shortly before it expires (and once after a
// 401). Refreshes are CSRF-protected by a double-submit token (`puente_csrf` cookie echoed
// in `X-CSRF-Token`) and serialised across tabs with a Web Lock, because the refresh token
// rotates on every use and a second, concurrent use would end the whole session.
import type { components } from '../api/schema';
import { createStore } from '../lib/store';

export type User = components['schemas']['UserDto'];
export type Role = User['role'];

export type SessionState =
  | { status: 'loading' }
  | { status: 'signedOut'; reason?: string | undefined }
  | { status: 'signedIn'; user: User };

export const sessionStore = createStore<SessionState>({ status: 'loading' });

const BASE = '/api/v1/auth/web';
/** Refresh this long before the access token expires. */
const EARLY_MS = 60_000;

let token: string | null = null;
let expiresAt = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let inflight: Promise<string | null> | null = null;
const channel: BroadcastChannel | null =
  typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel('puente-session') : null;

interface WebTokenResponse {
  access_token: string;
  expires_in: number;
  user: User;
  csrf_token?: string;
}

function readCookie(name: string): string | null {
  if (typeof document === 'undefined') return null;
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return null;
}

function csrf(): string {
  return readCookie('puente_csrf') ?? '';
}

/** Told of every new access token (the socket renews itself with it). */
const tokenListeners = new Set<(token: string) => void>();

export function onAccessToken(fn: (token: string) => void): () => void {
  tokenListeners.add(fn);
  return () => tokenListeners.delete(fn);
}

function accept(body: WebTokenResponse) {
  token = body.access_token;
  for (const fn of tokenListeners) fn(body.access_token);
  expiresAt = Date.now() + body.expires_in * 1000;
  sessionStore.set({ status: 'signedIn', user: body.user });
  clearTimeout(timer);
  const wait = Math.max(5_000, body.expires_in * 1000 - EARLY_MS);
  timer = setTimeout(() => void refresh(), wait);
}

function clear(reason?: string) {
  token = null;
  expiresAt = 0;
  clearTimeout(timer);
  sessionStore.set({ status: 'signedOut', reason });
}

async function post(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${BASE}${path}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (locks?.request) return locks.request('puente-refresh', fn) as Promise<T>;
  return fn();
}

/** Spend the refresh cookie for a new access token (one at a time, across tabs). */
export function refresh(): Promise<string | null> {
  if (inflight) return inflight;
  inflight = withLock(async () => {
    let res: Response;
    try {
      res = await post('/refresh', undefined, { 'x-csrf-token': csrf() });
    } catch {
      // Offline: keep what we have and try again later.
      clearTimeout(timer);
      timer = setTimeout(() => void refresh(), 10_000);
      return token;
    }
    if (res.ok) {
      accept((await res.json()) as WebTokenResponse);
      return token;
    }
    let code = 'session_expired';
    try {
      const p = (await res.json()) as { code?: string };
      if (p.code) code = p.code;
    } catch {
      /* not JSON */
    }
    const wasSignedIn = sessionStore.get().status === 'signedIn';
    // A first visit without a session is not "expired": just signed out.
    clear(wasSignedIn || code !== 'session_missing' ? code : undefined);
    return null;
  }).finally(() => {
    inflight = null;
  });
  return inflight;
}

export const session = {
  /** On start: resume a session from the refresh cookie, if there is one. */
  async init(): Promise<void> {
    if (!csrf()) {
      clear();
      return;
    }
    await refresh();
  },

  async login(email: string, password: string): Promise<Response> {
    const res = await post('/login', { email, password });
    if (res.ok) {
      accept((await res.clone().json()) as WebTokenResponse);
      channel?.postMessage({ type: 'signed-in' });
    }
    return res;
  },

  async register(body: Record<string, unknown>): Promise<Response> {
    const res = await post('/register', body);
    if (res.ok) accept((await res.clone().json()) as WebTokenResponse);
    return res;
  },

  /** The current access token, refreshed first when it is about to expire. */
  async accessToken(): Promise<string | null> {
    if (token && Date.now() < expiresAt - 15_000) return token;
    if (sessionStore.get().status !== 'signedIn') return token;
    return refresh();
  },

  /** After a 401: refresh unless someone already did since `stale` was issued. */
  async refreshAfter401(stale: string): Promise<string | null> {
    if (token && token !== stale) return token;
    return refresh();
  },

  async logout(): Promise<void> {
    try {
      await post('/logout', undefined, { 'x-csrf-token': csrf() });
    } catch {
      /* signing out locally is what matters */
    }
    clear();
    channel?.postMessage({ type: 'signed-out' });
  },

  /** The server said the session is over (socket closed for the account, refresh refused). */
  expire(reason: string) {
    clear(reason);
  },

  setUser(user: User) {
    const s = sessionStore.get();
    if (s.status === 'signedIn') sessionStore.set({ status: 'signedIn', user });
  },

  /** Replace the tokens after a call that rotated them (a password change). */
  adopt(body: WebTokenResponse) {
    accept(body);
  },

  user(): User | null {
    const s = sessionStore.get();
    return s.status === 'signedIn' ? s.user : null;
  },
};

channel?.addEventListener('message', (e: MessageEvent<{ type: string }>) => {
  if (e.data?.type === 'signed-out') clear('signed_out_elsewhere');
  if (e.data?.type === 'signed-in' && sessionStore.get().status !== 'signedIn') void refresh();
});
