// GET with query parameters for the endpoints whose OpenAPI description puts the query
// parameters in the path (`GET /conversations`, `/conversations/{id}/messages`, `/search`:
// their Rust `IntoParams` structs lack `parameter_in = Query`), which the typed client
// therefore cannot send. The answer's type still comes from the generated schema.
import { rawFetch } from '../../api/client';

export async function getWithQuery<T>(path: string, query: Record<string, string | number | boolean | null | undefined>): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  const res = await rawFetch(qs ? `${path}?${qs}` : path);
  return (await res.json()) as T;
}
