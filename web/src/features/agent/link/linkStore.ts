// The agent's WhatsApp link, kept live: loaded over REST, then moved by the socket's
// `link.status` frames (every state change) and `link.qr` frames (every new QR code), and
// reloaded after a `resync` or a resumed connection, so the alert and the link screen never
// show a stale state. One store for the whole app; it runs while something displays it.
import { useEffect } from 'react';
import { api, ok, rawFetch, unwrap } from '../../../api/client';
import { ApiError } from '../../../api/problem';
import { createStore, useStore } from '../../../lib/store';
import { on } from '../../../realtime/socket';
import { currentLink, type Link, type LinkStatus } from './model';

export interface Qr {
  linkId: string;
  /** A data: URL (from the frame) or a blob: URL (fetched). */
  src: string;
  rotation: number;
  /** When this code started, in our clock (ms): the frame's arrival, or the status change. */
  since: number;
}

export interface LinkState {
  loaded: boolean;
  error: unknown;
  link: Link | null;
  qr: Qr | null;
  /** The QR could not be fetched. */
  qrError: unknown;
}

const initial: LinkState = { loaded: false, error: undefined, link: null, qr: null, qrError: undefined };
export const linkStore = createStore<LinkState>(initial);

/** The `link.status` frame (src/links/service.rs `publish_status`). */
export interface LinkStatusFrame {
  link_id: string;
  status: LinkStatus;
  reason?: string | null;
  action?: string | null;
  phone?: string | null;
  push_name?: string | null;
  qr_rotations?: number;
}

/** The `link.qr` frame (src/links/service.rs `push_qr`). */
export interface LinkQrFrame {
  link_id: string;
  raw?: string;
  image: string;
  rotation: number;
}

let loadGen = 0;
let qrFetchTimer: ReturnType<typeof setTimeout> | undefined;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;

function setQr(qr: Qr | null) {
  const old = linkStore.get().qr;
  if (old && old.src.startsWith('blob:') && old.src !== qr?.src) URL.revokeObjectURL(old.src);
  linkStore.set((s) => ({ ...s, qr, qrError: undefined }));
}

/** Replace the link (after a load or an action's answer). */
export function setLink(link: Link | null) {
  linkStore.set((s) => ({ ...s, loaded: true, error: undefined, link }));
  if (!link || link.status !== 'scan_qr') setQr(null);
  else ensureQr();
}

/** Load the caller's links over REST. */
export async function reloadLink(): Promise<void> {
  const my = ++loadGen;
  try {
    const links = await unwrap(api.GET('/api/v1/whatsapp/links'));
    if (my !== loadGen) return;
    setLink(currentLink(links));
  } catch (error) {
    if (my !== loadGen) return;
    linkStore.set((s) => ({ ...s, loaded: true, error }));
  }
}

/** Fetch the current QR over REST (on load, or when a rotation's frame did not come). */
export async function fetchQr(): Promise<void> {
  const { link } = linkStore.get();
  if (!link || link.status !== 'scan_qr') return;
  const rotation = link.qr_rotations;
  const since = Math.min(Date.now(), Date.parse(link.updated_at) || Date.now());
  try {
    const res = await rawFetch(`/api/v1/whatsapp/links/${link.id}/qr`);
    const blob = await res.blob();
    const now = linkStore.get();
    // A frame with this (or a later) code may have arrived meanwhile.
    if (now.link?.id !== link.id || now.link.status !== 'scan_qr') return;
    if (now.qr && now.qr.linkId === link.id && now.qr.rotation >= rotation) return;
    setQr({ linkId: link.id, src: URL.createObjectURL(blob), rotation, since });
  } catch (err) {
    // Not scanning any more: the status frame that says so is on its way.
    if (err instanceof ApiError && err.code === 'link_not_scanning') return;
    linkStore.set((s) => ({ ...s, qrError: err }));
  }
}

/** While scanning, make sure the current code is shown: wait briefly for its frame, then fetch. */
function ensureQr() {
  const { link, qr } = linkStore.get();
  if (!link || link.status !== 'scan_qr') return;
  if (qr && qr.linkId === link.id && qr.rotation >= link.qr_rotations) return;
  clearTimeout(qrFetchTimer);
  qrFetchTimer = setTimeout(() => void fetchQr(), qr ? 1500 : 300);
}

export function applyStatus(f: LinkStatusFrame) {
  const { link } = linkStore.get();
  if (f.status === 'stopped' && f.reason === 'deleted') {
    if (link?.id === f.link_id) setLink(null);
    return;
  }
  if (!link || link.id !== f.link_id) {
    // A link we do not know yet (created in another tab): load it.
    void reloadLink();
    return;
  }
  setLink({
    ...link,
    status: f.status,
    status_reason: f.reason ?? null,
    action: f.action ?? null,
    phone: f.phone ?? null,
    push_name: f.push_name ?? null,
    qr_rotations: f.qr_rotations ?? link.qr_rotations,
    updated_at: new Date().toISOString(),
    working_since: f.status === 'working' ? (link.working_since ?? null) : null,
  });
  // The frame carries no times or container state: fetch the whole link shortly after.
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refreshOne(f.link_id), 400);
}

async function refreshOne(id: string) {
  const my = loadGen;
  try {
    const fresh = await unwrap(api.GET('/api/v1/whatsapp/links/{id}', { params: { path: { id } } }));
    const { link } = linkStore.get();
    if (my !== loadGen || link?.id !== id) return;
    // Keep what the frames said if a later frame changed the status meanwhile.
    if (fresh.status !== link.status || fresh.qr_rotations < link.qr_rotations) return;
    linkStore.set((s) => ({ ...s, link: fresh }));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) setLink(null);
  }
}

export function applyQr(f: LinkQrFrame) {
  const { link, qr } = linkStore.get();
  if (!link || link.id !== f.link_id) return;
  if (qr && qr.linkId === f.link_id && qr.rotation > f.rotation) return;
  clearTimeout(qrFetchTimer);
  setQr({ linkId: f.link_id, src: f.image, rotation: f.rotation, since: Date.now() });
  if (link.status !== 'scan_qr' || link.qr_rotations < f.rotation) {
    linkStore.set((s) => (s.link ? { ...s, link: { ...s.link, status: 'scan_qr', qr_rotations: f.rotation } } : s));
  }
}

let users = 0;
let unsubscribe: (() => void) | null = null;

function start() {
  users += 1;
  if (users > 1) return;
  const offs = [
    on<LinkStatusFrame>('link.status', (e) => applyStatus(e.data)),
    on<LinkQrFrame>('link.qr', (e) => applyQr(e.data)),
    on('resync', () => void reloadLink()),
    on<{ resumed?: boolean }>('open', (e) => {
      if (e.data.resumed) void reloadLink();
    }),
  ];
  unsubscribe = () => offs.forEach((f) => f());
  void reloadLink();
}

function stop() {
  users -= 1;
  if (users > 0) return;
  unsubscribe?.();
  unsubscribe = null;
  // Nobody shows it any more (signed out): the next user starts from nothing.
  resetLinkStore();
}

/** Keep the agent's link live while the calling component (the agent app) is mounted. */
export function useLinkTracking(): void {
  useEffect(() => {
    start();
    return stop;
  }, []);
}

/** The agent's link as last known (kept live by `useLinkTracking` higher up). */
export function useLink(): LinkState {
  return useStore(linkStore);
}

/** Forget everything (sign-out, tests). */
export function resetLinkStore() {
  loadGen += 1;
  clearTimeout(qrFetchTimer);
  clearTimeout(refreshTimer);
  setQr(null);
  linkStore.set(initial);
}

// ----- actions: each one updates the store with the server's answer -----------------------

export async function createLink(): Promise<void> {
  const link = await unwrap(api.POST('/api/v1/whatsapp/links'));
  setLink(link);
}

export async function restartLink(id: string): Promise<void> {
  const link = await unwrap(api.POST('/api/v1/whatsapp/links/{id}/restart', { params: { path: { id } } }));
  setQr(null);
  setLink(link);
}

export async function logoutLink(id: string): Promise<void> {
  const link = await unwrap(api.POST('/api/v1/whatsapp/links/{id}/logout', { params: { path: { id } } }));
  setQr(null);
  setLink(link);
}

/** Delete the link. Resolves to false when the server deferred the removal (202). */
export async function deleteLink(id: string): Promise<boolean> {
  const res = await api.DELETE('/api/v1/whatsapp/links/{id}', { params: { path: { id } } });
  await ok(Promise.resolve(res));
  setLink(null);
  return res.response.status !== 202;
}

export async function pairingCode(id: string, phone: string): Promise<string> {
  const body = await unwrap(
    api.POST('/api/v1/whatsapp/links/{id}/pairing-code', { params: { path: { id } }, body: { phone_number: phone } }),
  );
  return body.code;
}

/** The simulated phone's URL, or null when the link runs real WhatsApp. */
export async function simulatedPhoneUrl(id: string): Promise<string | null> {
  try {
    const body = await unwrap(api.GET('/api/v1/whatsapp/links/{id}/phone', { params: { path: { id } } }));
    return body.url;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'not_emulator') return null;
    throw err;
  }
}
