// The live fleet: one store shared by the fleet table and the link page. While at least one
// screen uses it, it polls `GET /admin/links` every few seconds for usage figures — only while
// the tab is visible — and applies `link.status` frames the moment they arrive. A frame newer
// than a poll that was already in flight wins over that poll's (older) status. A poll keeps
// the objects of the links it brought back unchanged (`reuseUnchanged`), so their rows do not
// render again.
import { useEffect } from 'react';
import { createStore, useStore } from '../../lib/store';
import { on } from '../../realtime/socket';
import { adminApi } from './adminApi';
import { applyStatus, reuseUnchanged, type AdminLink, type LinkStatusFrame } from './fleet';

export interface FleetState {
  links: AdminLink[] | null;
  error: unknown;
  /** Time of the last successful load (ms). */
  loadedAt: number | null;
  loading: boolean;
}

export const POLL_MS = 5000;

export const fleetStore = createStore<FleetState>({ links: null, error: undefined, loadedAt: null, loading: false });

export interface StatusChange {
  status: LinkStatusFrame['status'];
  reason: string | null;
  at: number;
}

/** Status changes seen live in this tab, per link (newest last, at most 20 each). */
export const historyStore = createStore<Record<string, StatusChange[]>>({});

function remember(f: LinkStatusFrame) {
  historyStore.set((h) => {
    const list = h[f.link_id] ?? [];
    const last = list[list.length - 1];
    if (last && last.status === f.status && last.reason === (f.reason ?? null)) return h;
    return { ...h, [f.link_id]: [...list, { status: f.status, reason: f.reason ?? null, at: Date.now() }].slice(-20) };
  });
}

/** Frames received recently, by link: applied over the result of a poll started before them. */
const recent = new Map<string, { frame: LinkStatusFrame; at: number }>();
let users = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let inFlight: Promise<void> | null = null;
let again = false;
let unsubs: (() => void)[] = [];

function visible(): boolean {
  return typeof document === 'undefined' || document.visibilityState !== 'hidden';
}

/** Load the fleet now (coalesced with a load already running). */
export function refreshFleet(): Promise<void> {
  if (inFlight) {
    again = true;
    return inFlight;
  }
  const started = Date.now();
  fleetStore.set((s) => ({ ...s, loading: true }));
  inFlight = adminApi
    .links(true)
    .then(
      (list) => {
        let links = list;
        for (const [id, r] of recent) {
          if (r.at >= started) links = applyStatus(links, r.frame).links;
          else recent.delete(id);
        }
        fleetStore.set((s) => ({ links: reuseUnchanged(s.links, links), error: undefined, loadedAt: Date.now(), loading: false }));
      },
      (error: unknown) => {
        fleetStore.set((s) => ({ ...s, error, loading: false }));
      },
    )
    .finally(() => {
      inFlight = null;
      if (again) {
        again = false;
        void refreshFleet();
      } else schedule();
    });
  return inFlight;
}

function schedule() {
  clearTimeout(timer);
  timer = undefined;
  if (users > 0 && visible()) timer = setTimeout(() => void refreshFleet(), POLL_MS);
}

function onVisibility() {
  if (visible()) {
    if (!inFlight) void refreshFleet();
  } else {
    clearTimeout(timer);
    timer = undefined;
  }
}

function onFrame(frame: LinkStatusFrame) {
  recent.set(frame.link_id, { frame, at: Date.now() });
  remember(frame);
  const cur = fleetStore.get().links;
  if (!cur) return;
  const { links, unknown } = applyStatus(cur, frame);
  fleetStore.set((s) => ({ ...s, links }));
  if (unknown) void refreshFleet();
}

function startUsing() {
  users++;
  if (users > 1) return;
  unsubs = [
    on<LinkStatusFrame>('link.status', (e) => onFrame(e.data)),
    on('resync', () => void refreshFleet()),
    on<{ resumed?: boolean }>('open', (e) => {
      if (e.data.resumed) void refreshFleet();
    }),
  ];
  document.addEventListener('visibilitychange', onVisibility);
  if (visible()) void refreshFleet();
}

function stopUsing() {
  users--;
  if (users > 0) return;
  for (const u of unsubs) u();
  unsubs = [];
  document.removeEventListener('visibilitychange', onVisibility);
  clearTimeout(timer);
  timer = undefined;
}

/** The live fleet; polling runs while any component uses this. */
export function useFleet(): FleetState {
  useEffect(() => {
    startUsing();
    return stopUsing;
  }, []);
  return useStore(fleetStore);
}

/** Fill the store once without polling (names for the audit log), if nothing loaded it yet. */
export function loadFleetOnce() {
  if (fleetStore.get().links || inFlight) return;
  adminApi.links(false).then(
    (links) => {
      if (!fleetStore.get().links) fleetStore.set((s) => ({ ...s, links }));
    },
    () => {
      /* names are a nicety here; the audit log shows ids instead */
    },
  );
}

/** Apply a status right away after an action (the server's frame follows). */
export function patchLink(id: string, patch: Partial<AdminLink>) {
  fleetStore.set((s) => (s.links ? { ...s, links: s.links.map((l) => (l.id === id ? { ...l, ...patch } : l)) } : s));
}

export function removeLink(id: string) {
  fleetStore.set((s) => (s.links ? { ...s, links: s.links.filter((l) => l.id !== id) } : s));
}

let lastFleetSearch = '';

/** Remember the fleet's filters and sorting (its query string) for the way back to it. */
export function rememberFleetSearch(search: string) {
  lastFleetSearch = search;
}

/** `/fleet` with the filters the operator last used there. */
export function fleetAddress(): string {
  return lastFleetSearch ? `/fleet?${lastFleetSearch}` : '/fleet';
}
