// The app's one WebSocket (`/api/v1/ws`). It opens with a one-use ticket (never the token in
// the URL), resumes from the last event sequence it saw so nothing is missed across a
// reconnect, reconnects with backoff, and hands every frame to the features that subscribed
// to its type. A `resync` frame (or a gap too large to replay) is announced as the
// `resync` event: subscribers reload what they show over REST.
import { createStore } from '../lib/store';
import { onAccessToken, session } from '../session/session';

export type ConnectionStatus = 'idle' | 'connecting' | 'online' | 'reconnecting' | 'offline';
export const connection = createStore<ConnectionStatus>('idle');

export interface ServerEvent<D = Record<string, unknown>> {
  seq?: number;
  type: string;
  data: D;
  at?: string;
}

type Handler = (e: ServerEvent) => void;
const handlers = new Map<string, Set<Handler>>();

/** Listen to one frame type (`message.created`, `typing`, `link.qr`, …, or `resync`/`open`). */
export function on<D = Record<string, unknown>>(type: string, fn: (e: ServerEvent<D>) => void): () => void {
  let set = handlers.get(type);
  if (!set) handlers.set(type, (set = new Set()));
  set.add(fn as Handler);
  return () => set.delete(fn as Handler);
}

function emit(e: ServerEvent) {
  for (const fn of handlers.get(e.type) ?? []) {
    try {
      fn(e);
    } catch (err) {
      console.warn('realtime handler failed', e.type, err);
    }
  }
  for (const fn of handlers.get('*') ?? []) fn(e);
}

let ws: WebSocket | null = null;
let lastSeq: number | null = null;
let attempt = 0;
let wanted = false;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let pingTimer: ReturnType<typeof setInterval> | undefined;
const outbox: string[] = [];

function seqKey(): string {
  return `puente.seq.${session.user()?.id ?? 'anon'}`;
}

function saveSeq(seq: number) {
  if (lastSeq !== null && seq <= lastSeq) return;
  lastSeq = seq;
  try {
    sessionStorage.setItem(seqKey(), String(seq));
  } catch {
    /* ignore */
  }
}

async function open() {
  if (!wanted) return;
  connection.set(attempt === 0 ? 'connecting' : 'reconnecting');
  let ticket: string;
  try {
    const token = await session.accessToken();
    if (!token) return stop();
    const res = await fetch('/api/v1/ws/ticket', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    if (res.status === 401) {
      const fresh = await session.refreshAfter401(token);
      if (!fresh) return stop();
      return schedule(0);
    }
    if (!res.ok) throw new Error(`ticket ${res.status}`);
    ticket = ((await res.json()) as { ticket: string }).ticket;
  } catch {
    return schedule();
  }
  if (!wanted) return;
  const url = new URL('/api/v1/ws', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('ticket', ticket);
  if (lastSeq !== null) url.searchParams.set('since', String(lastSeq));
  const sock = new WebSocket(url);
  ws = sock;
  sock.onmessage = (m) => {
    let frame: ServerEvent & { last_seq?: number };
    try {
      frame = JSON.parse(String(m.data));
    } catch {
      return;
    }
    if (frame.type === 'hello') {
      attempt = 0;
      connection.set('online');
      const first = lastSeq === null;
      if (first && typeof frame.last_seq === 'number') saveSeq(frame.last_seq);
      while (outbox.length) sock.send(outbox.shift() as string);
      emit({ type: 'open', data: { resumed: !first } });
      return;
    }
    if (frame.type === 'resync') {
      if (typeof frame.last_seq === 'number') {
        lastSeq = null;
        saveSeq(frame.last_seq);
      }
      emit({ type: 'resync', data: {} });
      return;
    }
    if (frame.type === 'pong') return;
    if (typeof frame.seq === 'number') {
      if (lastSeq !== null && frame.seq <= lastSeq) return; // already seen
      saveSeq(frame.seq);
    }
    emit(frame);
  };
  sock.onclose = (ev) => {
    if (ws === sock) ws = null;
    clearInterval(pingTimer);
    // 4001–4003: the server ended this account's session (deactivated, password changed,
    // signed out everywhere, token expired without a refresh).
    if (ev.code >= 4001 && ev.code <= 4003) {
      wanted = false;
      connection.set('idle');
      session.expire(ev.reason || 'session_ended');
      return;
    }
    if (wanted) schedule();
  };
  sock.onopen = () => {
    clearInterval(pingTimer);
    pingTimer = setInterval(() => send({ type: 'ping' }), 20_000);
  };
}

function schedule(delay?: number) {
  if (!wanted) return;
  attempt += 1;
  connection.set(navigator.onLine === false ? 'offline' : 'reconnecting');
  const ms = delay ?? Math.min(15_000, 500 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() / 2);
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => void open(), ms);
}

function stop() {
  wanted = false;
  clearTimeout(retryTimer);
  clearInterval(pingTimer);
  connection.set('idle');
  if (ws) {
    ws.onclose = null;
    ws.close(1000);
    ws = null;
  }
}

export const realtime = {
  /** Connect (after sign-in). Resumes from the sequence this tab last saw. */
  start() {
    if (wanted) return;
    wanted = true;
    attempt = 0;
    try {
      const saved = sessionStorage.getItem(seqKey());
      lastSeq = saved ? Number(saved) : null;
    } catch {
      lastSeq = null;
    }
    void open();
  },
  stop,
  /** Drop the socket now and reconnect (tests; a "reconnect" button). */
  reconnect() {
    if (ws) ws.close(4000, 'client reconnect');
    else if (wanted) schedule(0);
  },
  /** Send a client frame (`typing`, `read`); queued while disconnected. */
  send,
  lastSeq: () => lastSeq,
};

function send(frame: Record<string, unknown>) {
  const text = JSON.stringify(frame);
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(text);
  else if (frame.type !== 'typing' && frame.type !== 'ping' && outbox.length < 100) outbox.push(text);
}

// The server closes a socket (4003) when the token it was opened with expires, unless the
// client renews it: every refreshed access token goes to the open socket as an `auth` frame.
onAccessToken((token) => {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'auth', access_token: token }));
});

if (typeof window !== 'undefined') {
  window.addEventListener('online', () => {
    if (wanted && !ws) schedule(0);
  });
  window.addEventListener('offline', () => {
    if (wanted) connection.set('offline');
  });
}
