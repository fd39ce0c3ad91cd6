// The admin API: calls with the secret, their errors, and buttons busy while one runs.
import { announce } from './status.js';
import { lock, secret } from './session.js';

export class ApiError extends Error {
  constructor(status, body) {
    super((body && typeof body.error === 'string' && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * Call the admin API. Resolves with the parsed JSON body of a 2xx answer.
 * Rejects with ApiError for other statuses (body parsed when it is JSON).
 */
export async function api(path, { method = 'GET', body, token = secret() } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(`api/${path}`, {
    method,
    headers,
    body: payload,
    cache: 'no-store',
    credentials: 'omit',
    redirect: 'error',
  });
  let data = null;
  const type = res.headers.get('content-type') || '';
  if (type.includes('json')) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if ((res.status === 401 || res.status === 403) && token === secret()) {
      lock(`The secret was not accepted (${err.message}). Unlock again.`);
    }
    throw err;
  }
  return data;
}

/** Report an error from an API call. */
export function failed(what, err) {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return;
  const detail = err instanceof ApiError ? err.message : 'the worker could not be reached';
  announce(`${what} failed: ${detail}.`, 'error');
}

/** Disable a button while an async action runs. */
export async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}
