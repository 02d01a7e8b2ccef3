// Writing: Enter sends, Shift+Enter adds a line; a file by the button, drag-and-drop (the
// thread hands dropped files in) or paste; a reply quoted above; internal-note mode for
// staff (yellow, clearly labelled); the 5,000-character limit shown near it; typing frames
// while writing, at most one every few seconds.
import { forwardRef, useEffect, useImperativeHandle, useRef, useState } from 'react';
import { useT } from '../../i18n';
import { realtime } from '../../realtime/socket';
import { formatBytes } from '../../lib/format';
import { m as cat } from './messages';
import { charCount, MAX_CHARS, type Msg } from './model';

export const UPLOAD_TYPES = [
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'application/pdf',
  'audio/ogg',
  'audio/mpeg',
  'audio/mp4',
  'video/mp4',
  'text/plain',
];
export const MAX_UPLOAD = 16 * 1024 * 1024;
const TYPING_EVERY_MS = 3000;
/** Unsent text per conversation, kept while the app is open (like chat apps' drafts). */
const drafts = new Map<string, string>();
/** The counter appears this close to the limit. */
const COUNTER_FROM = MAX_CHARS - 500;

export interface ComposerHandle {
  focus(): void;
  attach(file: File): void;
}

export interface SendInput {
  body: string;
  file?: File | undefined;
  replyTo?: Msg | undefined;
  note: boolean;
}

export function fileProblem(f: File, t: (k: 'fileTooLarge' | 'fileType', v: Record<string, string>) => string): string | null {
  if (f.size > MAX_UPLOAD) return t('fileTooLarge', { name: f.name });
  const type = f.type.split(';')[0]?.trim().toLowerCase() ?? '';
  if (!UPLOAD_TYPES.includes(type)) return t('fileType', { name: f.name || type });
  return null;
}

export const Composer = forwardRef<
  ComposerHandle,
  {
    conversationId: string;
    staff: boolean;
    /** Staff who are not the conversation's agent write notes only. */
    noteOnly?: boolean | undefined;
    disabledReason?: string | undefined;
    replyTo: Msg | undefined;
    replyName: string;
    onCancelReply: () => void;
    onSend: (input: SendInput) => void;
    onError: (text: string) => void;
  }
>(function Composer(p, ref) {
  const t = useT(cat);
  const [text, setText] = useState('');
  const [file, setFile] = useState<File | undefined>(undefined);
  const [preview, setPreview] = useState<string | undefined>(undefined);
  const [noteChosen, setNote] = useState(false);
  const note = !!p.noteOnly || noteChosen;
  const area = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const lastTyping = useRef(0);
  const typingOn = useRef(false);

  const n = charCount(text);
  const over = n - MAX_CHARS;
  const empty = n === 0 && !file;
  const disabled = !!p.disabledReason;

  const attach = (f: File) => {
    if (note) {
      p.onError(t('notesNoFiles'));
      return;
    }
    const problem = fileProblem(f, t);
    if (problem) {
      p.onError(problem);
      return;
    }
    setFile(f);
    area.current?.focus();
  };

  useImperativeHandle(ref, () => ({ focus: () => area.current?.focus(), attach }));

  useEffect(() => {
    if (!file || !file.type.startsWith('image/')) {
      setPreview(undefined);
      return;
    }
    const u = URL.createObjectURL(file);
    setPreview(u);
    return () => URL.revokeObjectURL(u);
  }, [file]);

  const stopTyping = () => {
    if (!typingOn.current) return;
    typingOn.current = false;
    lastTyping.current = 0;
    realtime.send({ type: 'typing', conversation_id: p.conversationId, typing: false });
  };

  // Each conversation has its own draft.
  const textRef = useRef(text);
  textRef.current = text;
  useEffect(() => {
    setText(drafts.get(p.conversationId) ?? '');
    setFile(undefined);
    setNote(false);
    const id = p.conversationId;
    return () => {
      if (textRef.current.trim()) drafts.set(id, textRef.current);
      else drafts.delete(id);
      if (typingOn.current) realtime.send({ type: 'typing', conversation_id: p.conversationId, typing: false });
      typingOn.current = false;
    };
  }, [p.conversationId]);

  // Grow with the text, up to a limit.
  useEffect(() => {
    const a = area.current;
    if (!a) return;
    a.style.height = 'auto';
    a.style.height = `${Math.min(a.scrollHeight, 180)}px`;
  }, [text]);

  useEffect(() => {
    if (p.replyTo) area.current?.focus();
  }, [p.replyTo]);

  const onChange = (v: string) => {
    setText(v);
    if (note) return;
    const now = Date.now();
    if (v.trim() && now - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = now;
      typingOn.current = true;
      realtime.send({ type: 'typing', conversation_id: p.conversationId, typing: true });
    } else if (!v.trim()) stopTyping();
  };

  const submit = () => {
    if (disabled || empty || over > 0) return;
    p.onSend({ body: text.trim(), file, replyTo: p.replyTo, note });
    setText('');
    textRef.current = '';
    drafts.delete(p.conversationId);
    setFile(undefined);
    stopTyping();
    area.current?.focus();
  };

  const counter = n >= COUNTER_FROM;
  return (
    <form
      className={`composer${note ? ' composer-note' : ''}`}
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {p.replyTo && (
        <div className="composer-reply">
          <div className="grow">
            <div className="quote-name">{t('replyingTo', { name: p.replyName })}</div>
            <div className="quote-text truncate">{p.replyTo.body ?? p.replyTo.media?.file_name ?? t('originalMessage')}</div>
          </div>
          <button type="button" className="icon-btn" aria-label={t('cancelReply')} onClick={p.onCancelReply}>
            ×
          </button>
        </div>
      )}
      {file && (
        <div className="composer-file">
          {preview ? <img src={preview} alt="" /> : <span className="media-file-icon" aria-hidden="true">📄</span>}
          <div className="grow">
            <div className="truncate">{file.name}</div>
            <div className="muted small">{formatBytes(file.size)}</div>
          </div>
          <button type="button" className="icon-btn" aria-label={t('removeAttachment')} onClick={() => setFile(undefined)}>
            ×
          </button>
        </div>
      )}
      {note && <p className="composer-note-hint">{t('noteModeHint')}</p>}
      {p.disabledReason ? (
        <p className="composer-disabled">{p.disabledReason}</p>
      ) : (
        <div className="composer-row">
          {p.staff && !p.noteOnly && (
            <button
              type="button"
              className={`chip composer-mode`}
              aria-pressed={note}
              onClick={() => {
                setNote((x) => !x);
                if (!note) {
                  setFile(undefined);
                  stopTyping();
                }
                area.current?.focus();
              }}
              title={t('noteModeHint')}
            >
              <span aria-hidden="true">🔒</span>
              <span className="composer-mode-label">{t('noteMode')}</span>
            </button>
          )}
          {!note && (
            <>
              <button type="button" className="icon-btn" aria-label={t('attach')} onClick={() => fileInput.current?.click()}>
                <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
                  <path
                    d="M16.5 6.5l-7.8 7.8a2 2 0 002.8 2.8l7.8-7.8a4 4 0 00-5.7-5.7l-7.8 7.8a6 6 0 008.5 8.5l6.4-6.4"
                    fill="none"
                    stroke="currentColor"
                    strokeWidth="1.8"
                    strokeLinecap="round"
                  />
                </svg>
              </button>
              <input
                ref={fileInput}
                type="file"
                hidden
                accept={UPLOAD_TYPES.join(',')}
                tabIndex={-1}
                onChange={(e) => {
                  const f = e.target.files?.[0];
                  if (f) attach(f);
                  e.target.value = '';
                }}
              />
            </>
          )}
          <label className="visually-hidden" htmlFor={`composer-${p.conversationId}`}>
            {note ? t('noteMode') : file ? t('captionLabel') : t('composerLabel')}
          </label>
          <textarea
            ref={area}
            id={`composer-${p.conversationId}`}
            data-composer
            className="composer-input"
            rows={1}
            value={text}
            placeholder={note ? t('notePlaceholder') : file ? t('captionLabel') : t('messagePlaceholder')}
            aria-describedby={`composer-hint-${p.conversationId}`}
            aria-invalid={over > 0 || undefined}
            onChange={(e) => onChange(e.target.value)}
            onBlur={stopTyping}
            onPaste={(e) => {
              const f = [...e.clipboardData.files][0];
              if (f) {
                e.preventDefault();
                attach(f);
              }
            }}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.nativeEvent.isComposing) {
                e.preventDefault();
                submit();
              } else if (e.key === 'Escape') {
                if (p.replyTo) {
                  e.preventDefault();
                  e.stopPropagation();
                  p.onCancelReply();
                } else (e.target as HTMLTextAreaElement).blur();
              }
            }}
          />
          <button type="submit" className={`btn ${note ? 'btn-note' : 'btn-primary'} composer-send`} disabled={empty || over > 0} aria-label={note ? t('sendNote') : t('send')}>
            <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
              <path d="M3 20.5l18-8.5L3 3.5l2.5 8.5L3 20.5zM5.5 12H13" fill="none" stroke="currentColor" strokeWidth="2" strokeLinejoin="round" />
            </svg>
          </button>
        </div>
      )}
      <div id={`composer-hint-${p.conversationId}`} className="composer-foot">
        <span className="composer-hint">{t('enterHint')}</span>
        {counter && (
          <span className={`composer-counter${over > 0 ? ' over' : ''}`} aria-live="polite">
            {over > 0 ? t('tooLong', { n: over }) : t('charsLeft', { n: MAX_CHARS - n })}
          </span>
        )}
      </div>
    </form>
  );
});
