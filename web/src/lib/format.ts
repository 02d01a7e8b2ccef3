// Dates, times, money and sizes in the user's locale.
import { locale } from '../i18n';

const loc = () => (locale.get() === 'es' ? 'es-ES' : 'en-GB');

export function formatTime(iso: string | Date): string {
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  return d.toLocaleTimeString(loc(), { hour: '2-digit', minute: '2-digit' });
}

/** "14:05" today, "Mon" this week, "12/03/26" otherwise — like chat lists do. */
export function formatListTime(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (sameDay(d, now)) return formatTime(d);
  const days = (startOfDay(now).getTime() - startOfDay(d).getTime()) / 86_400_000;
  if (days < 7) return d.toLocaleDateString(loc(), { weekday: 'short' });
  return d.toLocaleDateString(loc(), { day: '2-digit', month: '2-digit', year: '2-digit' });
}

export function formatDay(iso: string, labels: { today: string; yesterday: string }, now = new Date()): string {
  const d = new Date(iso);
  if (sameDay(d, now)) return labels.today;
  const y = new Date(now);
  y.setDate(y.getDate() - 1);
  if (sameDay(d, y)) return labels.yesterday;
  return d.toLocaleDateString(loc(), { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
}

export function formatDateTime(iso: string): string {
  return new Date(iso).toLocaleString(loc(), { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatMoney(amount: number | string, currency = 'EUR'): string {
  const n = typeof amount === 'string' ? Number(amount) : amount;
  if (!Number.isFinite(n)) return String(amount);
  return new Intl.NumberFormat(loc(), { style: 'currency', currency, maximumFractionDigits: 0 }).format(n);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function formatDuration(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

export function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

function startOfDay(d: Date): Date {
  const x = new Date(d);
  x.setHours(0, 0, 0, 0);
  return x;
}
