// "New WhatsApp chat": the agent writes first to a number that never wrote to them. The
// server checks the number with WhatsApp, opens (or finds) the conversation and sends the
// message; the inbox then opens it.
import { useRef, useState } from 'react';
import { api, unwrap } from '../../../api/client';
import { fieldMessage, problemMessage } from '../../../api/problem';
import { useT } from '../../../i18n';
import { common } from '../../../i18n/common';
import { Dialog, Field, TextArea } from '../../../ui/controls';
import { newClientId } from '../../chat/model';
import { m as cat } from './messages';

export function NewChatDialog({ onClose, onOpened }: { onClose: () => void; onOpened: (conversationId: string) => void }) {
  const t = useT(cat);
  const tc = useT(common);
  const [phone, setPhone] = useState('');
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  // One key per attempt at this message: a retry after a lost answer is not a second message.
  const clientId = useRef(newClientId());
  const ready = phone.trim().length > 0 && body.trim().length > 0 && !busy;
  const submit = async () => {
    if (!ready) return;
    setBusy(true);
    setErr(null);
    try {
      const res = await unwrap(
        api.POST('/api/v1/conversations/whatsapp', {
          body: { phone: phone.trim(), body: body.trim(), client_id: clientId.current },
        }),
      );
      onOpened(res.conversation.id);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const phoneError = err ? fieldMessage(err, 'phone') : undefined;
  const bodyError = err ? fieldMessage(err, 'body') : undefined;
  const general = err && !phoneError && !bodyError ? problemMessage(err) : undefined;
  return (
    <Dialog
      open
      title={t('newChatTitle')}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="btn btn-ghost" onClick={onClose}>
            {tc('cancel')}
          </button>
          <button type="submit" form="new-chat-form" className="btn btn-primary" disabled={!ready}>
            {busy ? t('newChatSending') : t('newChatSend')}
          </button>
        </>
      }
    >
      <form
        id="new-chat-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Field
          label={t('newChatPhone')}
          hint={t('newChatPhoneHint')}
          type="tel"
          inputMode="tel"
          autoComplete="tel"
          autoFocus
          maxLength={32}
          value={phone}
          error={phoneError}
          onChange={(e) => {
            setPhone(e.target.value);
            clientId.current = newClientId();
          }}
        />
        <TextArea
          label={t('newChatMessage')}
          rows={4}
          maxLength={5000}
          value={body}
          error={bodyError}
          onChange={(e) => {
            setBody(e.target.value);
            clientId.current = newClientId();
          }}
        />
        {general && (
          <p className="form-error" role="alert">
            {general}
          </p>
        )}
      </form>
    </Dialog>
  );
}
