import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../api/problem';
import { locale } from '../../i18n';
import { serverFieldMessage } from './serverWords';

afterEach(() => locale.set('en'));

const err = new ApiError({ status: 422, code: 'validation_failed', detail: '', errors: [
  { field: 'title', message: 'must be 1 to 200 characters' },
  { field: 'agent_id', message: 'no such active agent in your agency' },
  { field: 'city', message: 'something new' },
] });

describe('server field messages', () => {
  it('pass through in English and translate to Spanish when known', () => {
    expect(serverFieldMessage(err, 'title')).toBe('must be 1 to 200 characters');
    locale.set('es');
    expect(serverFieldMessage(err, 'title')).toBe('debe tener entre 1 y 200 caracteres');
    expect(serverFieldMessage(err, 'agent_id')).toMatch(/ningún agente activo/);
    expect(serverFieldMessage(err, 'city')).toBe('something new');
    expect(serverFieldMessage(err, 'price_cents')).toBeUndefined();
  });
});
