// Errors from the API are RFC 9457 problem documents with a stable `code`. `ApiError` carries
// them through the app; `problemMessage` turns one into words for the user, in their language.
import { defineMessages, translator } from '../i18n';

export interface FieldError {
  field: string;
  message: string;
  code?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly requestId: string | undefined;
  readonly errors: FieldError[];
  /** Seconds to wait, from `Retry-After` (rate limits). */
  readonly retryAfter: number | undefined;

  constructor(init: {
    status: number;
    code: string;
    detail: string;
    requestId?: string | undefined;
    errors?: FieldError[];
    retryAfter?: number | undefined;
  }) {
    super(init.detail || init.code);
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.requestId = init.requestId;
    this.errors = init.errors ?? [];
    this.retryAfter = init.retryAfter;
  }

  static network(): ApiError {
    return new ApiError({ status: 0, code: 'network_error', detail: 'The server could not be reached.' });
  }

  /** Build from a fetch Response (its body not yet read) or an already parsed body. */
  static async fromResponse(res: Response, body?: unknown): Promise<ApiError> {
    let doc: Record<string, unknown> = {};
    if (body && typeof body === 'object') doc = body as Record<string, unknown>;
    else {
      try {
        doc = (await res.clone().json()) as Record<string, unknown>;
      } catch {
        doc = {};
      }
    }
    const ra = res.headers.get('retry-after');
    return new ApiError({
      status: res.status,
      code: typeof doc.code === 'string' ? doc.code : `http_${res.status}`,
      detail: typeof doc.detail === 'string' ? doc.detail : res.statusText,
      requestId: (typeof doc.request_id === 'string' ? doc.request_id : undefined) ?? res.headers.get('x-request-id') ?? undefined,
      errors: Array.isArray(doc.errors) ? (doc.errors as FieldError[]) : [],
      retryAfter: ra && /^\d+$/.test(ra) ? Number(ra) : undefined,
    });
  }
}

const m = defineMessages({
  en: {
    network_error: 'The server could not be reached. Check your connection and try again.',
    invalid_credentials: 'That email and password do not match. Check them and try again.',
    rate_limited: 'Too many attempts. Wait {wait} and try again.',
    rate_limited_nowait: 'Too many attempts. Wait a moment and try again.',
    email_taken: 'An account with this email already exists. Sign in instead, or use another email.',
    weak_password: 'Choose a longer password: at least 10 characters, ideally a phrase.',
    account_deactivated: 'This account has been deactivated. Ask your agency admin.',
    invalid_invite: 'That invite code is not valid or has been used. Ask your agency admin for a new one.',
    not_found: 'It is not there any more, or you cannot see it.',
    forbidden: 'You are not allowed to do this.',
    payload_too_large: 'That file is too large.',
    unsupported_media_type: 'That type of file cannot be sent.',
    validation_failed: 'Some fields need attention.',
    no_whatsapp_link: 'Link your WhatsApp number first (WhatsApp in the menu).',
    link_not_working: 'Your WhatsApp is not connected right now. Check it under WhatsApp, then try again.',
    internal_error: 'Something went wrong on our side. Try again; if it keeps happening, tell us the code {id}.',
    unavailable: 'The service is busy. Try again in a moment.',
    session_expired: 'Your session has ended. Sign in again.',
    generic: '{detail}',
    seconds: '{n} seconds',
    minutes: '{n} minutes',
  },
  es: {
    network_error: 'No se pudo contactar con el servidor. Revisa tu conexión e inténtalo de nuevo.',
    invalid_credentials: 'El correo y la contraseña no coinciden. Revísalos e inténtalo de nuevo.',
    rate_limited: 'Demasiados intentos. Espera {wait} y vuelve a intentarlo.',
    rate_limited_nowait: 'Demasiados intentos. Espera un momento y vuelve a intentarlo.',
    email_taken: 'Ya existe una cuenta con este correo. Inicia sesión o usa otro correo.',
    weak_password: 'Elige una contraseña más larga: al menos 10 caracteres, mejor una frase.',
    account_deactivated: 'Esta cuenta está desactivada. Consulta con el administrador de tu agencia.',
    invalid_invite: 'Ese código de invitación no es válido o ya se usó. Pide uno nuevo al administrador de tu agencia.',
    not_found: 'Ya no existe, o no tienes acceso.',
    forbidden: 'No tienes permiso para hacer esto.',
    payload_too_large: 'El archivo es demasiado grande.',
    unsupported_media_type: 'Ese tipo de archivo no se puede enviar.',
    validation_failed: 'Hay campos que revisar.',
    no_whatsapp_link: 'Primero vincula tu número de WhatsApp (WhatsApp en el menú).',
    link_not_working: 'Tu WhatsApp no está conectado ahora. Revísalo en WhatsApp y vuelve a intentarlo.',
    internal_error: 'Algo falló en nuestro lado. Inténtalo de nuevo; si se repite, indícanos el código {id}.',
    unavailable: 'El servicio está ocupado. Inténtalo en un momento.',
    session_expired: 'Tu sesión ha terminado. Vuelve a iniciar sesión.',
    generic: '{detail}',
    seconds: '{n} segundos',
    minutes: '{n} minutos',
  },
});

/** Words for an error, in the user's language. Unknown codes fall back to the server's detail. */
export function problemMessage(err: unknown): string {
  const t = translator(m);
  if (!(err instanceof ApiError)) {
    if (err instanceof TypeError) return t('network_error');
    return err instanceof Error ? err.message : String(err);
  }
  switch (err.code) {
    case 'rate_limited':
    case 'login_rate_limited': {
      const s = err.retryAfter;
      if (s === undefined) return t('rate_limited_nowait');
      const wait = s >= 90 ? t('minutes', { n: Math.ceil(s / 60) }) : t('seconds', { n: s });
      return t('rate_limited', { wait });
    }
    case 'internal_error':
      return t('internal_error', { id: err.requestId ?? '—' });
    case 'database_busy':
    case 'docker_unavailable':
      return t('unavailable');
    case 'weak_password':
    case 'password_too_short':
      return t('weak_password');
    case 'invalid_invite_code':
    case 'invalid_invite':
      return t('invalid_invite');
    case 'account_inactive':
    case 'user_deactivated':
    case 'account_deactivated':
      return t('account_deactivated');
    default:
      if (err.code in m.en && err.code !== 'generic' && err.code !== 'seconds' && err.code !== 'minutes') {
        return t(err.code as keyof typeof m.en);
      }
      if (err.status === 403) return err.detail || t('forbidden');
      if (err.status >= 500) return t('unavailable');
      return err.detail || err.code;
  }
}

/** The message for one field of a validation problem, if the server named it. */
export function fieldError(err: unknown, field: string): string | undefined {
  if (!(err instanceof ApiError)) return undefined;
  return err.errors.find((e) => e.field === field)?.message;
}

const fields = defineMessages({
  en: {
    'is not a valid email address': 'is not a valid email address',
    'must be at least 10 characters long': 'must be at least 10 characters long',
    'must be at most 128 characters long': 'must be at most 128 characters long',
    'is too common': 'is too common — choose something less guessable',
    'must use at least 5 different characters': 'must use at least 5 different characters',
    'must not contain your email address': 'must not contain your email address',
    'must be 6 to 15 digits': 'must be 6 to 15 digits',
    'is incorrect': 'is incorrect',
    'is required for an agency admin': 'is required for a new agency',
    'must be 6 to 15 digits, with country code': 'must be 6 to 15 digits, with the country code',
    'this number is not on WhatsApp': 'this number is not on WhatsApp',
  },
  es: {
    'is not a valid email address': 'no es un correo válido',
    'must be at least 10 characters long': 'debe tener al menos 10 caracteres',
    'must be at most 128 characters long': 'debe tener como máximo 128 caracteres',
    'is too common': 'es demasiado común: elige algo más difícil de adivinar',
    'must use at least 5 different characters': 'debe usar al menos 5 caracteres distintos',
    'must not contain your email address': 'no debe contener tu correo',
    'must be 6 to 15 digits': 'debe tener entre 6 y 15 dígitos',
    'is incorrect': 'no es correcta',
    'is required for an agency admin': 'es obligatorio para una agencia nueva',
    'must be 6 to 15 digits, with country code': 'debe tener entre 6 y 15 dígitos, con el prefijo del país',
    'this number is not on WhatsApp': 'este número no está en WhatsApp',
  },
});

/** A field's server message, translated when we know it. */
export function fieldMessage(err: unknown, field: string): string | undefined {
  const msg = fieldError(err, field);
  if (!msg) return undefined;
  const t = translator(fields);
  return msg in fields.en ? t(msg as keyof typeof fields.en) : msg;
}
