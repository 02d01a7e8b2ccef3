// Test helpers: a fake Puente API (fetch) and a fake socket to push frames through.
import { vi } from 'vitest';
import type { Link } from './model';

export type Handler = (e: { type: string; data: unknown }) => void;
export const handlers = new Map<string, Set<Handler>>();

/** Use as the factory of `vi.mock('…/realtime/socket')`. */
export function socketMock() {
  return {
    on: (type: string, fn: Handler) => {
      let set = handlers.get(type);
      if (!set) handlers.set(type, (set = new Set()));
      set.add(fn);
      return () => set.delete(fn);
    },
    realtime: { send: vi.fn(), start: vi.fn(), stop: vi.fn() },
    connection: { get: () => 'online', set: () => {}, subscribe: () => () => {} },
  };
}

/** Deliver a frame to the subscribers, as the socket would. */
export function push(type: string, data: unknown) {
  for (const fn of handlers.get(type) ?? []) fn({ type, data });
}

export function makeLink(over: Partial<Link> = {}): Link {
  return {
    id: '0190aaaa-0000-7000-8000-000000000001',
    status: 'scan_qr',
    status_reason: null,
    engine: 'GOWS',
    can_send: ['text', 'image', 'video', 'voice', 'audio', 'file'],
    qr_rotations: 1,
    created_at: '2026-12-01T09:00:00Z',
    updated_at: new Date().toISOString(),
    container: { state: 'running', restart_count: 0 },
    ...over,
  };
}

type Route = (req: Request) => Response | Promise<Response> | undefined;

/** A fake `fetch`: routes answer by method and path; anything else is a 404 problem. */
export function fakeApi(routes: Record<string, Route | unknown>) {
  const calls: string[] = [];
  const fetchMock = vi.fn(async (input: Request | string, init?: RequestInit) => {
    const req = typeof input === 'string' ? new Request(new URL(input, 'http://localhost'), init) : input;
    const url = new URL(req.url);
    const key = `${req.method} ${url.pathname}`;
    calls.push(key);
    const r = routes[key];
    if (typeof r === 'function') {
      const res = await (r as Route)(req);
      if (res) return res;
    } else if (r !== undefined) {
      return json(r);
    }
    return json({ code: 'not_found', detail: 'no such route', status: 404 }, 404, 'application/problem+json');
  });
  vi.stubGlobal('fetch', fetchMock);
  return { calls, fetchMock };
}

export function json(body: unknown, status = 200, type = 'application/json'): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });
}
