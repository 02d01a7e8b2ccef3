// The operator endpoints this console calls, on the typed client.
import { api, ok, unwrap, type Schemas } from '../../api/client';
import type { operations } from '../../api/schema';
import { ApiError } from '../../api/problem';

export type AuditRow = Schemas['AuditRow'];
export type Report = Schemas['AdminReportRow'];
export type Resolution = Schemas['Resolution'];
export type SwarmNode = Schemas['NodeView'];
export type AuditQuery = NonNullable<operations['list_audit']['parameters']['query']>;
export type ReportStatus = NonNullable<NonNullable<operations['list_reports']['parameters']['query']>['status']>;

export const adminApi = {
  links: (stats = true) => unwrap(api.GET('/api/v1/admin/links', { params: { query: { stats } } })),

  /**
   * The lines; the `cursor` to follow from (`after=cursor` returns each later line exactly
   * once); and the server's clock (unix seconds, from `Date`) for a `since` fallback when
   * there is no cursor yet.
   */
  logs: async (id: string, query: { tail?: number; since?: number; after?: string }) => {
    const { data, error, response } = await api.GET('/api/v1/admin/links/{id}/logs', { params: { path: { id }, query } });
    if (!response.ok || !data) throw await ApiError.fromResponse(response, error);
    const date = Date.parse(response.headers.get('date') ?? '');
    return {
      lines: data.lines,
      times: data.times,
      cursor: data.cursor ?? null,
      serverTime: Math.floor((Number.isFinite(date) ? date : Date.now()) / 1000),
    };
  },

  nodes: () => unwrap(api.GET('/api/v1/admin/nodes')),
  drain: (id: string) => unwrap(api.POST('/api/v1/admin/nodes/{id}/drain', { params: { path: { id } } })),
  activate: (id: string) => ok(api.POST('/api/v1/admin/nodes/{id}/activate', { params: { path: { id } } })),

  restart: (id: string) => ok(api.POST('/api/v1/admin/links/{id}/restart', { params: { path: { id } } })),
  stop: (id: string) => ok(api.POST('/api/v1/admin/links/{id}/stop', { params: { path: { id } } })),

  /** true: removed now (204); false: accepted (202), the supervisor finishes the removal. */
  remove: async (id: string) => {
    const { response, error } = await api.DELETE('/api/v1/admin/links/{id}', { params: { path: { id } } });
    if (!response.ok) throw await ApiError.fromResponse(response, error);
    return response.status === 204;
  },

  replay: (id: string, since: string | null) =>
    unwrap(api.POST('/api/v1/admin/links/{id}/events/replay', { params: { path: { id } }, body: { since } })),

  /** A page of the audit log, filtered on the server; the next page is `before` the last id, with the same filters. */
  audit: (query: AuditQuery) => unwrap(api.GET('/api/v1/admin/audit', { params: { query } })),

  reports: (q: { status?: ReportStatus | ''; before?: string; limit?: number }) => {
    const { status, ...rest } = q;
    return unwrap(api.GET('/api/v1/admin/reports', { params: { query: status ? { ...rest, status } : rest } }));
  },

  resolve: (id: string, status: Resolution, note: string) =>
    unwrap(
      api.POST('/api/v1/admin/reports/{id}/resolve', {
        params: { path: { id } },
        body: { status, note: note.trim() ? note.trim() : null },
      }),
    ),
};
