// Alerts for messages that arrive while the tab is in the background: a desktop
// notification (permission asked only when the user presses a button) and an optional short
// beep made with the Web Audio API (no audio files). The sound setting is remembered.
import { useEffect } from 'react';
import { createStore } from '../../lib/store';
import { on } from '../../realtime/socket';
import { navigate } from '../../router';
import type { User } from '../../session/session';
import { translator } from '../../i18n';
import { defineMessages } from '../../i18n';

const SOUND_KEY = 'puente.notify.sound';
const DISMISS_KEY = 'puente.notify.dismissed';

function readBool(key: string, dflt: boolean): boolean {
  try {
    const v = localStorage.getItem(key);
    return v === null ? dflt : v === '1';
  } catch {
    return dflt;
  }
}
function writeBool(key: string, v: boolean) {
  try {
    localStorage.setItem(key, v ? '1' : '0');
  } catch {
    /* storage may be unavailable */
  }
}

export type Permission = 'default' | 'granted' | 'denied' | 'unsupported';

export interface NotifySettings {
  sound: boolean;
  permission: Permission;
  /** The "turn on notifications" offer was dismissed. */
  dismissed: boolean;
}

function currentPermission(): Permission {
  return typeof Notification === 'undefined' ? 'unsupported' : (Notification.permission as Permission);
}

export const notifySettings = createStore<NotifySettings>({
  sound: readBool(SOUND_KEY, false),
  permission: currentPermission(),
  dismissed: readBool(DISMISS_KEY, false),
});

let audio: AudioContext | null = null;

/** Create (or wake) the audio context; browsers allow it only after a user gesture. */
function audioContext(): AudioContext | null {
  const Ctor = typeof window !== 'undefined' ? (window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext) : undefined;
  if (!Ctor) return null;
  if (!audio) audio = new Ctor();
  if (audio.state === 'suspended') void audio.resume();
  return audio;
}

/** Two short soft tones. */
export function beep() {
  const ctx = audioContext();
  if (!ctx) return;
  const now = ctx.currentTime;
  [880, 1175].forEach((freq, i) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    const t0 = now + i * 0.13;
    gain.gain.setValueAtTime(0.0001, t0);
    gain.gain.exponentialRampToValueAtTime(0.18, t0 + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.12);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t0);
    osc.stop(t0 + 0.13);
  });
}

export function setSound(on: boolean) {
  writeBool(SOUND_KEY, on);
  notifySettings.set((s) => ({ ...s, sound: on }));
  if (on) beep(); // a sample, and it unlocks the audio context from this click
}

export async function askPermission(): Promise<Permission> {
  if (typeof Notification === 'undefined') return 'unsupported';
  const p = (await Notification.requestPermission()) as Permission;
  notifySettings.set((s) => ({ ...s, permission: p }));
  return p;
}

export function dismissOffer() {
  writeBool(DISMISS_KEY, true);
  notifySettings.set((s) => ({ ...s, dismissed: true }));
}

const words = defineMessages({
  en: { newMessage: 'New message', photo: 'Photo', file: 'File', audio: 'Audio', video: 'Video', location: 'Location' },
  es: { newMessage: 'Mensaje nuevo', photo: 'Foto', file: 'Archivo', audio: 'Audio', video: 'Vídeo', location: 'Ubicación' },
});

interface Created {
  conversation_id: string;
  message: { id: string; kind: string; body?: string | null; author_user_id?: string | null; direction: string };
}

/** Should this message alert? Only the other side's messages, never notes, only when hidden. */
export function shouldAlert(d: Created, meId: string, hidden: boolean): boolean {
  if (!hidden) return false;
  const m = d.message;
  if (m.kind === 'note' || m.kind === 'system') return false;
  return m.author_user_id ? m.author_user_id !== meId : m.direction === 'in';
}

/**
 * While mounted: alert for messages that arrive while the tab is hidden. `nameOf` gives
 * the conversation's title when known; `pathOf` where a click on the notification goes.
 */
export function useMessageAlerts(user: User, nameOf: (conversationId: string) => string | undefined, pathOf: (conversationId: string) => string) {
  useEffect(() => {
    // Any click may unlock the audio context for later beeps.
    const unlock = () => {
      if (notifySettings.get().sound) audioContext();
    };
    window.addEventListener('pointerdown', unlock, { once: true });
    const off = on<Created>('message.created', (e) => {
      if (!shouldAlert(e.data, user.id, document.visibilityState === 'hidden')) return;
      const s = notifySettings.get();
      if (s.sound) beep();
      if (s.permission !== 'granted' || typeof Notification === 'undefined') return;
      const t = translator(words);
      const m = e.data.message;
      const body =
        m.body?.slice(0, 140) ||
        (m.kind === 'image' ? t('photo') : m.kind === 'video' ? t('video') : m.kind === 'audio' || m.kind === 'voice' ? t('audio') : m.kind === 'location' ? t('location') : t('file'));
      try {
        const n = new Notification(nameOf(e.data.conversation_id) ?? t('newMessage'), { body, tag: e.data.conversation_id, icon: '/favicon.svg' });
        n.onclick = () => {
          window.focus();
          navigate(pathOf(e.data.conversation_id));
          n.close();
        };
      } catch {
        /* some browsers only allow notifications from a service worker */
      }
    });
    return () => {
      off();
      window.removeEventListener('pointerdown', unlock);
    };
  }, [user.id, nameOf, pathOf]);
}
