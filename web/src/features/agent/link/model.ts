// What a WhatsApp link's state means for the agent, without React: which step of linking they
// are on, how to describe the state in words (a catalogue key), which fix to offer, how long
// the current QR code lives, and how to show a phone number.
import type { Schemas } from '../../../api/client';

export type Link = Schemas['LinkDto'];
export type LinkStatus = Schemas['LinkStatus'];

/** The QR codes WhatsApp issues for one linking attempt before the session gives up. */
export const QR_CODES_PER_ATTEMPT = 6;
/** WAHA keeps the first code about a minute, every later one about 20 seconds. */
export const FIRST_QR_SECONDS = 60;
export const NEXT_QR_SECONDS = 20;

/** 1 starting the session → 2 scan the QR → 3 linked. */
export type Step = 1 | 2 | 3;

export function stepOf(status: LinkStatus): Step {
  if (status === 'scan_qr') return 2;
  if (status === 'working') return 3;
  return 1;
}

/** Seconds a QR code lives, from its rotation number (1 = the first code of an attempt). */
export function qrLifetime(rotation: number): number {
  return rotation <= 1 ? FIRST_QR_SECONDS : NEXT_QR_SECONDS;
}

/**
 * Whole seconds left on a QR code that arrived (or was issued) at `since` (ms), at `now` (ms).
 * A `since` in the future (a clock ahead of ours) counts as now.
 */
export function secondsLeft(rotation: number, since: number, now: number): number {
  const elapsed = Math.max(0, now - since) / 1000;
  return Math.max(0, Math.ceil(qrLifetime(rotation) - elapsed));
}

/** Which code of the attempt this is, clamped to 1..QR_CODES_PER_ATTEMPT. */
export function codeNumber(rotation: number): number {
  return Math.min(QR_CODES_PER_ATTEMPT, Math.max(1, rotation));
}

/** What the agent can do about a state. */
export type Fix =
  | 'create' // no link: link WhatsApp
  | 'scan' // go and scan the QR code
  | 'restart' // restart the session (a new QR, or reconnect)
  | 'relink' // the phone unlinked it: restart to get a new QR and scan again
  | 'operator' // nothing the agent can do: ask an operator
  | 'wait'; // it is fixing itself

export type Tone = 'info' | 'warn' | 'bad';

/** The words for a state: keys of the link catalogue (`messages.ts`). */
export interface Description {
  /** `state_*` key: a short title. */
  title: StateKey;
  /** `why_*` key: what happened and what to do. */
  body: WhyKey;
  tone: Tone;
  fix: Fix;
  /** Whether the agent can receive and send WhatsApp messages now. */
  working: boolean;
}

export type StateKey =
  | 'state_none'
  | 'state_starting'
  | 'state_reconnecting'
  | 'state_scan'
  | 'state_passkey'
  | 'state_working'
  | 'state_qr_expired'
  | 'state_logged_out'
  | 'state_failed'
  | 'state_crash_loop'
  | 'state_image_missing'
  | 'state_image_too_old'
  | 'state_connect_failed'
  | 'state_moved'
  | 'state_unreachable'
  | 'state_stopped';

export type WhyKey =
  | 'why_none'
  | 'why_starting'
  | 'why_starting_after_logout'
  | 'why_crashed'
  | 'why_silent'
  | 'why_scan'
  | 'why_passkey'
  | 'why_working'
  | 'why_qr_expired'
  | 'why_logged_out'
  | 'why_session_failed'
  | 'why_crash_loop'
  | 'why_image_missing'
  | 'why_image_too_old'
  | 'why_connect_failed'
  | 'why_moved'
  | 'why_unreachable'
  | 'why_stopped_by_operator'
  | 'why_stopped';

/** Describe a link (or its absence) for the agent. */
export function describe(link: Pick<Link, 'status' | 'status_reason'> | null | undefined): Description {
  if (!link) return { title: 'state_none', body: 'why_none', tone: 'warn', fix: 'create', working: false };
  const reason = link.status_reason ?? null;
  switch (link.status) {
    case 'working':
      return { title: 'state_working', body: 'why_working', tone: 'info', fix: 'wait', working: true };
    case 'scan_qr':
      if (reason === 'passkey_required') {
        return { title: 'state_passkey', body: 'why_passkey', tone: 'warn', fix: 'scan', working: false };
      }
      return { title: 'state_scan', body: 'why_scan', tone: 'warn', fix: 'scan', working: false };
    case 'provisioning':
    case 'starting':
      if (reason === 'crashed' || reason === 'crash_loop') {
        return {
          title: reason === 'crash_loop' ? 'state_crash_loop' : 'state_reconnecting',
          body: reason === 'crash_loop' ? 'why_crash_loop' : 'why_crashed',
          tone: reason === 'crash_loop' ? 'bad' : 'warn',
          fix: reason === 'crash_loop' ? 'operator' : 'wait',
          working: false,
        };
      }
      if (reason === 'silent_restarted') {
        return { title: 'state_reconnecting', body: 'why_silent', tone: 'warn', fix: 'wait', working: false };
      }
      if (reason === 'logged_out') {
        return { title: 'state_starting', body: 'why_starting_after_logout', tone: 'warn', fix: 'wait', working: false };
      }
      if (reason === 'moved_node_needs_scan') {
        // Moved to another server (its own was drained): the login stayed behind, a new QR comes.
        return { title: 'state_moved', body: 'why_moved', tone: 'warn', fix: 'wait', working: false };
      }
      return { title: 'state_starting', body: 'why_starting', tone: 'info', fix: 'wait', working: false };
    case 'failed':
      switch (reason) {
        case 'qr_expired':
          return { title: 'state_qr_expired', body: 'why_qr_expired', tone: 'bad', fix: 'restart', working: false };
        case 'logged_out':
          return { title: 'state_logged_out', body: 'why_logged_out', tone: 'bad', fix: 'relink', working: false };
        case 'image_missing':
          return { title: 'state_image_missing', body: 'why_image_missing', tone: 'bad', fix: 'operator', working: false };
        case 'image_too_old':
          return { title: 'state_image_too_old', body: 'why_image_too_old', tone: 'bad', fix: 'operator', working: false };
        case 'connect_failed':
          // Never reached a QR code: not the agent's doing, unlike an expired QR.
          return { title: 'state_connect_failed', body: 'why_connect_failed', tone: 'bad', fix: 'restart', working: false };
        case 'crash_loop':
        case 'crashed':
          return { title: 'state_crash_loop', body: 'why_crash_loop', tone: 'bad', fix: 'operator', working: false };
        case 'unreachable':
          return { title: 'state_unreachable', body: 'why_unreachable', tone: 'bad', fix: 'wait', working: false };
        default:
          return { title: 'state_failed', body: 'why_session_failed', tone: 'bad', fix: 'restart', working: false };
      }
    case 'stopped':
      if (reason === 'deleted') return describe(null);
      // An operator's stop is undone only by an operator: the agent's restart is refused.
      if (reason === 'stopped_by_operator') {
        return { title: 'state_stopped', body: 'why_stopped_by_operator', tone: 'bad', fix: 'operator', working: false };
      }
      return { title: 'state_stopped', body: 'why_stopped', tone: 'bad', fix: 'restart', working: false };
  }
}

/** The link to show: the caller's newest live link (an agent normally has one). */
export function currentLink(links: Link[]): Link | null {
  const live = links.filter((l) => !(l.status === 'stopped' && l.status_reason === 'deleted'));
  if (live.length === 0) return null;
  return live.reduce((a, b) => (b.created_at > a.created_at ? b : a));
}

// Country calling codes of one and two digits (ITU E.164); every other code has three.
const CC1 = new Set(['1', '7']);
const CC2 = new Set(
  (
    '20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 ' +
    '81 82 84 86 90 91 92 93 94 95 98'
  ).split(' '),
);

/** `34600000001` → `+34 600 000 001`; anything that is not 6–15 digits is returned as is. */
export function formatPhone(raw: string | null | undefined): string {
  if (!raw) return '';
  const digits = raw.replace(/\D/g, '');
  if (digits.length < 6 || digits.length > 15) return raw;
  const ccLen = CC1.has(digits[0] as string) ? 1 : CC2.has(digits.slice(0, 2)) ? 2 : 3;
  const cc = digits.slice(0, ccLen);
  const rest = digits.slice(ccLen);
  const groups: string[] = [];
  let i = 0;
  // Groups of three; the last group takes up to four digits (no lone digit at the end).
  while (rest.length - i > 4) {
    groups.push(rest.slice(i, i + 3));
    i += 3;
  }
  if (i < rest.length) groups.push(rest.slice(i));
  return `+${cc} ${groups.join(' ')}`;
}

/** A pairing code shown in two groups of four (`ABCD-EFGH` → `ABCD EFGH`). */
export function spacedCode(code: string): string {
  const c = code.replace(/[^0-9A-Za-z]/g, '').toUpperCase();
  return c.length === 8 ? `${c.slice(0, 4)} ${c.slice(4)}` : c;
}

/** The digits a phone field holds, with an optional leading `+`, spaces, dashes, dots, brackets. */
export function phoneDigits(input: string): string | null {
  const s = input.trim();
  if (!/^\+?[\d\s\-.()]+$/.test(s)) return null;
  const d = s.replace(/\D/g, '');
  return d.length >= 6 && d.length <= 15 && !d.startsWith('0') ? d : null;
}
