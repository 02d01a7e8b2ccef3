// Uploading a file to `POST /api/v1/files` with progress (XMLHttpRequest: fetch cannot report
// upload progress), the bearer token, and one refresh-and-retry after a 401.
import type { Schemas } from '../../api/client';
import { ApiError } from '../../api/problem';
import { session } from '../../session/session';

export type FileDto = Schemas['FileDto'];
export const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/webp'];
export const MAX_UPLOAD = 16 * 1024 * 1024;

function send(file: File, token: string | null, onProgress: (f: number) => void): Promise<{ status: number; body: unknown; xhr: XMLHttpRequest }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/files?name=${encodeURIComponent(file.name)}`);
    if (token) xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('content-type', file.type);
    xhr.responseType = 'text';
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: unknown = undefined;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      resolve({ status: xhr.status, body, xhr });
    };
    xhr.onerror = () => reject(ApiError.network());
    xhr.send(file);
  });
}

function problem(status: number, body: unknown, xhr: XMLHttpRequest): ApiError {
  const doc = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const ra = xhr.getResponseHeader('retry-after');
  return new ApiError({
    status,
    code: typeof doc.code === 'string' ? doc.code : `http_${status}`,
    detail: typeof doc.detail === 'string' ? doc.detail : xhr.statusText,
    requestId: typeof doc.request_id === 'string' ? doc.request_id : undefined,
    errors: Array.isArray(doc.errors) ? (doc.errors as ApiError['errors']) : [],
    retryAfter: ra && /^\d+$/.test(ra) ? Number(ra) : undefined,
  });
}

export async function uploadFile(file: File, onProgress: (fraction: number) => void): Promise<FileDto> {
  const token = await session.accessToken();
  let r = await send(file, token, onProgress);
  if (r.status === 401 && token) {
    const fresh = await session.refreshAfter401(token);
    if (fresh) r = await send(file, fresh, onProgress);
  }
  if (r.status < 200 || r.status >= 300) throw problem(r.status, r.body, r.xhr);
  return r.body as FileDto;
}
