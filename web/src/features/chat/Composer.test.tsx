import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { Composer } from './Composer';

vi.mock('../../realtime/socket', () => ({ realtime: { send: vi.fn() } }));
import { realtime } from '../../realtime/socket';

function setup(props: Partial<Parameters<typeof Composer>[0]> = {}) {
  const onSend = vi.fn();
  const onError = vi.fn();
  render(
    <Composer conversationId="c1" staff replyTo={undefined} replyName="" onCancelReply={() => undefined} onSend={onSend} onError={onError} {...props} />,
  );
  return { onSend, onError, box: screen.queryByLabelText('Write a message') as HTMLTextAreaElement };
}

describe('Composer', () => {
  it('sends on Enter, adds a line on Shift+Enter, and sends typing frames', () => {
    const { onSend, box } = setup();
    fireEvent.change(box, { target: { value: 'Hola' } });
    expect(realtime.send).toHaveBeenCalledWith({ type: 'typing', conversation_id: 'c1', typing: true });
    fireEvent.keyDown(box, { key: 'Enter', shiftKey: true });
    expect(onSend).not.toHaveBeenCalled();
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(onSend).toHaveBeenCalledWith({ body: 'Hola', file: undefined, replyTo: undefined, note: false });
    expect(box.value).toBe('');
    expect(realtime.send).toHaveBeenLastCalledWith({ type: 'typing', conversation_id: 'c1', typing: false });
  });

  it('shows the counter near the limit and refuses to send beyond it', () => {
    const { onSend, box } = setup();
    fireEvent.change(box, { target: { value: 'a'.repeat(4600) } });
    expect(screen.getByText('400 characters left')).toBeTruthy();
    fireEvent.change(box, { target: { value: 'a'.repeat(5003) } });
    expect(screen.getByText('3 characters over the limit')).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Send' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(onSend).not.toHaveBeenCalled();
  });

  it('writes internal notes in note mode, without typing frames', () => {
    vi.mocked(realtime.send).mockClear();
    const { onSend } = setup();
    fireEvent.click(screen.getByRole('button', { name: /Internal note/ }));
    const note = screen.getByLabelText('Internal note', { selector: 'textarea' });
    fireEvent.change(note, { target: { value: 'Solo para el equipo' } });
    expect(realtime.send).not.toHaveBeenCalled();
    fireEvent.keyDown(note, { key: 'Enter' });
    expect(onSend).toHaveBeenCalledWith(expect.objectContaining({ body: 'Solo para el equipo', note: true }));
  });

  it('rejects files the server would refuse', () => {
    const { onError } = setup();
    const input = document.querySelector('input[type=file]') as HTMLInputElement;
    const exe = new File(['x'], 'setup.exe', { type: 'application/x-msdownload' });
    fireEvent.change(input, { target: { files: [exe] } });
    expect(onError).toHaveBeenCalledWith(expect.stringContaining('setup.exe cannot be sent'));
  });

  it('buyers have no note mode; a closed conversation cannot be written in', () => {
    setup({ staff: false, disabledReason: 'This conversation is closed. Reopen it to write.' });
    expect(screen.queryByRole('button', { name: /Internal note/ })).toBeNull();
    expect(screen.getByText('This conversation is closed. Reopen it to write.')).toBeTruthy();
  });
});
