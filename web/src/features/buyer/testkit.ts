// Test helpers: a fake API on `fetch` (routes "METHOD /path" → JSON or a function of the
// request), recording the calls with their query strings.
import { vi } from 'vitest';

export type Handler = unknown | ((req: Request, url: URL) => unknown);

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

export function fakeApi(routes: Record<string, Handler>) {
  const calls: string[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: Request | string, init?: RequestInit) => {
      const req = typeof input === 'string' ? new Request(new URL(input, 'http://localhost/'), init) : input;
      const url = new URL(req.url);
      const key = `${req.method} ${url.pathname}`;
      calls.push(`${key}${url.search}`);
      if (!(key in routes)) return json({ code: 'not_found', status: 404, detail: key }, 404);
      const h = routes[key];
      const out = typeof h === 'function' ? await (h as (r: Request, u: URL) => unknown)(req, url) : h;
      if (out instanceof Response) return out;
      if (out === undefined) return new Response(null, { status: 204 });
      return json(out);
    }),
  );
  return { calls };
}

export function listing(over: Record<string, unknown> = {}) {
  return {
    id: 'p1',
    agency_id: 'a1',
    agency_name: 'Costa Homes',
    agent_id: 'u-agent',
    agent_name: 'Diego Agent',
    title: 'Penthouse with rooftop terrace',
    description: 'Top floor.',
    price_cents: 48_500_000,
    currency: 'EUR',
    address: 'Calle Larios 12',
    city: 'Málaga',
    property_type: 'apartment',
    status: 'active',
    photos: [],
    created_at: '2026-11-30T10:00:00Z',
    updated_at: '2026-11-30T10:00:00Z',
    ...over,
  };
}
