import { describe as suite, expect, test } from 'vitest';
import {
  codeNumber,
  currentLink,
  describe,
  formatPhone,
  phoneDigits,
  qrLifetime,
  secondsLeft,
  spacedCode,
  stepOf,
  type Link,
} from './model';

const link = (over: Partial<Link> = {}): Link => ({
  id: '0190aaaa-0000-7000-8000-000000000001',
  status: 'scan_qr',
  status_reason: null,
  engine: 'GOWS',
  can_send: ['text', 'image', 'video', 'voice', 'audio', 'file'],
  qr_rotations: 1,
  created_at: '2026-12-01T09:00:00Z',
  updated_at: '2026-12-01T09:00:00Z',
  ...over,
});

suite('steps', () => {
  test('starting → scan → linked', () => {
    expect(stepOf('provisioning')).toBe(1);
    expect(stepOf('starting')).toBe(1);
    expect(stepOf('scan_qr')).toBe(2);
    expect(stepOf('working')).toBe(3);
    expect(stepOf('failed')).toBe(1);
  });
});

suite('QR countdown', () => {
  test('the first code lives 60 s, later ones 20 s', () => {
    expect(qrLifetime(1)).toBe(60);
    expect(qrLifetime(0)).toBe(60);
    expect(qrLifetime(2)).toBe(20);
    expect(qrLifetime(6)).toBe(20);
  });
  test('counts down from the arrival, never below zero, whole seconds rounded up', () => {
    const t0 = 1_000_000;
    expect(secondsLeft(1, t0, t0)).toBe(60);
    expect(secondsLeft(1, t0, t0 + 400)).toBe(60);
    expect(secondsLeft(1, t0, t0 + 1000)).toBe(59);
    expect(secondsLeft(2, t0, t0 + 19_001)).toBe(1);
    expect(secondsLeft(2, t0, t0 + 20_000)).toBe(0);
    expect(secondsLeft(2, t0, t0 + 99_000)).toBe(0);
  });
  test('a start in the future (clock skew) counts as now', () => {
    expect(secondsLeft(3, 5_000, 1_000)).toBe(20);
  });
  test('code N of 6', () => {
    expect(codeNumber(0)).toBe(1);
    expect(codeNumber(3)).toBe(3);
    expect(codeNumber(9)).toBe(6);
  });
});

suite('status → words', () => {
  test('no link asks to link', () => {
    expect(describe(null)).toMatchObject({ title: 'state_none', fix: 'create', working: false });
    expect(describe(link({ status: 'stopped', status_reason: 'deleted' }))).toMatchObject({ title: 'state_none' });
  });
  test('working is the only state without an alert', () => {
    expect(describe(link({ status: 'working' })).working).toBe(true);
    for (const status of ['provisioning', 'starting', 'scan_qr', 'failed', 'stopped'] as const) {
      expect(describe(link({ status })).working).toBe(false);
    }
  });
  test('each drop says which one and what fixes it', () => {
    expect(describe(link({ status: 'failed', status_reason: 'logged_out' }))).toMatchObject({
      title: 'state_logged_out',
      body: 'why_logged_out',
      tone: 'bad',
      fix: 'relink',
    });
    expect(describe(link({ status: 'failed', status_reason: 'qr_expired' }))).toMatchObject({ title: 'state_qr_expired', fix: 'restart' });
    expect(describe(link({ status: 'failed', status_reason: 'session_failed' }))).toMatchObject({ title: 'state_failed', fix: 'restart' });
    expect(describe(link({ status: 'failed', status_reason: 'crash_loop' }))).toMatchObject({ title: 'state_crash_loop', fix: 'operator' });
    expect(describe(link({ status: 'failed', status_reason: 'image_missing' }))).toMatchObject({ fix: 'operator' });
    // Never reached a QR code (WhatsApp unreachable) is told apart from a QR left unscanned.
    expect(describe(link({ status: 'failed', status_reason: 'connect_failed' }))).toMatchObject({
      title: 'state_connect_failed',
      body: 'why_connect_failed',
      fix: 'restart',
    });
    // Moved off a drained Swarm node: a new scan is coming, said plainly.
    expect(describe(link({ status: 'starting', status_reason: 'moved_node_needs_scan' }))).toMatchObject({
      title: 'state_moved',
      body: 'why_moved',
      fix: 'wait',
    });
    expect(describe(link({ status: 'failed', status_reason: 'image_too_old' }))).toMatchObject({
      title: 'state_image_too_old',
      fix: 'operator',
    });
    expect(describe(link({ status: 'starting', status_reason: 'crash_loop' }))).toMatchObject({ title: 'state_crash_loop', tone: 'bad' });
    expect(describe(link({ status: 'starting', status_reason: 'crashed' }))).toMatchObject({ title: 'state_reconnecting', fix: 'wait' });
    expect(describe(link({ status: 'starting', status_reason: 'silent_restarted' }))).toMatchObject({ title: 'state_reconnecting' });
    expect(describe(link({ status: 'starting', status_reason: 'logged_out' }))).toMatchObject({ body: 'why_starting_after_logout' });
    expect(describe(link({ status: 'stopped', status_reason: 'stopped_by_operator' }))).toMatchObject({
      body: 'why_stopped_by_operator',
      fix: 'operator',
    });
    expect(describe(link({ status: 'scan_qr', status_reason: 'passkey_required' }))).toMatchObject({ title: 'state_passkey' });
    expect(describe(link({ status: 'scan_qr' }))).toMatchObject({ title: 'state_scan', fix: 'scan' });
  });
});

suite('which link', () => {
  test('the newest live one', () => {
    const a = link({ id: 'a', created_at: '2026-01-01T00:00:00Z' });
    const b = link({ id: 'b', created_at: '2026-02-01T00:00:00Z' });
    expect(currentLink([a, b])?.id).toBe('b');
    expect(currentLink([])).toBeNull();
  });
});

suite('numbers and codes', () => {
  test('phones are shown with their country code and grouped', () => {
    expect(formatPhone('34600000001')).toBe('+34 600 000 001');
    expect(formatPhone('14155550123')).toBe('+1 415 555 0123');
    expect(formatPhone('447700900123')).toBe('+44 770 090 0123');
    expect(formatPhone('351912345678')).toBe('+351 912 345 678');
    expect(formatPhone(null)).toBe('');
    expect(formatPhone('abc')).toBe('abc');
  });
  test('pairing codes are shown in two groups of four', () => {
    expect(spacedCode('ABCD-EFGH')).toBe('ABCD EFGH');
    expect(spacedCode('abcdefgh')).toBe('ABCD EFGH');
    expect(spacedCode('123')).toBe('123');
  });
  test('phone input: digits with country code, common separators allowed', () => {
    expect(phoneDigits('+34 600 00 00 01')).toBe('34600000001');
    expect(phoneDigits('(34) 600-000-001')).toBe('34600000001');
    expect(phoneDigits('600')).toBeNull();
    expect(phoneDigits('0034600000001')).toBeNull();
    expect(phoneDigits('34 six hundred')).toBeNull();
  });
});
