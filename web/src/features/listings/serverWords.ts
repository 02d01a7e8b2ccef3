// The API's field messages (English, stable) in the user's language. The form checks the
// same rules first, so these show only when the server knows better (e.g. an agent who left).
import { fieldMessage } from '../../api/problem';
import { locale } from '../../i18n';

const es: [RegExp, (m: RegExpExecArray) => string][] = [
  [/^is required$/, () => 'es obligatorio'],
  [/^must be (\d+) to (\d+) characters$/, (m) => `debe tener entre ${m[1]} y ${m[2]} caracteres`],
  [/^must be at most (\d+) characters$/, (m) => `debe tener como máximo ${m[1]} caracteres`],
  [/^must not contain control characters$/, () => 'no debe contener caracteres de control'],
  [/^must be between (\d+) and (\d+)(?: \(cents\))?$/, (m) => `debe estar entre ${m[1]} y ${m[2]}`],
  [/^must be an ISO 4217 code/, () => 'debe ser un código ISO 4217: 3 letras mayúsculas'],
  [/^must be one of: (.*)$/, (m) => `debe ser uno de: ${m[1]}`],
  [/^no such active agent in your agency$/, () => 'no hay ningún agente activo con ese nombre en tu agencia'],
  [/^no such uploaded file of yours$/, () => 'no es un archivo que hayas subido'],
  [/^must be a JPEG, PNG or WebP image$/, () => 'debe ser una imagen JPEG, PNG o WebP'],
];

/** A field's message from a validation problem, translated when we know its wording. */
export function serverFieldMessage(err: unknown, field: string): string | undefined {
  const msg = fieldMessage(err, field);
  if (!msg || locale.get() !== 'es') return msg;
  for (const [re, to] of es) {
    const m = re.exec(msg);
    if (m) return to(m);
  }
  return msg;
}
