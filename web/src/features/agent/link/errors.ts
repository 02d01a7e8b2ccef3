// Words for a failed link action: the link's own problem codes first, then the app's.
import { ApiError, problemMessage } from '../../../api/problem';
import type { T } from '../../../i18n';
import type { LinkKey } from './messages';
import { linkMessages } from './messages';

export function linkError(t: T<LinkKey>, err: unknown): string {
  if (err instanceof ApiError) {
    const key = `err_${err.code}`;
    if (key in linkMessages.en) return t(key as LinkKey);
  }
  return problemMessage(err);
}
