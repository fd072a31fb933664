// REST and realtime access: the API key (kept in sessionStorage, i.e. for this tab only), problem details, uploads.
const KEY = 'cleanrealtime.apiKey';

export function apiKey() {
  return sessionStorage.getItem(KEY) ?? '';
}

export function setApiKey(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

let asking = null;

/** Shows the key dialog once for all callers waiting on a 401; resolves true when a key was entered. */
export function askForKey(reason) {
  if (asking) return asking;
  const dialog = document.getElementById('key-dialog');
  const input = document.getElementById('key-input');
  document.getElementById('key-reason').textContent =
    reason ?? 'This server needs an API key. It is kept for this browser tab only.';
  input.value = apiKey();
  asking = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      asking = null;
      if (dialog.returnValue === 'save' && input.value.trim()) {
        setApiKey(input.value.trim());
        resolve(true);
      } else {
        resolve(false);
      }
    }, { once: true });
    dialog.showModal();
    input.focus();
  });
  return asking;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(describeProblem(status, problem));
    this.status = status;
    this.problem = problem;
  }
}

export function describeProblem(status, problem) {
  if (!problem) return `HTTP ${status}`;
  const fields = problem.errors
    ? Object.entries(problem.errors).map(([field, messages]) => `${field}: ${messages.join(' ')}`).join('; ')
    : '';
  return [problem.title, problem.detail, fields].filter(Boolean).join(' — ') || `HTTP ${status}`;
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, 'X-API-Key': key } : extra;
}

/** fetch() with the key; a 401 asks for a key once and retries. Throws ApiError for any other non-2xx answer. */
export async function request(path, options = {}) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(path, { ...options, headers: headers(options.headers) });
    if (response.status === 401 && attempt === 0 && await askForKey(apiKey() ? 'That API key was refused. Enter another one.' : undefined)) {
      continue;
    }
    if (!response.ok) {
      // A problem+json body explains the refusal; any other body (a proxy's HTML page) leaves just the status.
      const isJson = /json/.test(response.headers.get('Content-Type') ?? '');
      throw new ApiError(response.status, isJson ? await response.json() : null);
    }
    return response;
  }
}

export async function getJson(path) {
  return (await request(path)).json();
}

export async function postJson(path, body) {
  return (await request(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })).json();
}

/** An image of the API as an object URL (an <img src> could not carry the X-API-Key header). */
export async function imageUrl(path) {
  const blob = await (await request(path)).blob();
  return URL.createObjectURL(blob);
}

/** Uploads a file as multipart/form-data with XMLHttpRequest, which (unlike fetch) reports upload progress. */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const send = (retried) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', '/v1/media');
      const key = apiKey();
      if (key) xhr.setRequestHeader('X-API-Key', key);
      xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
      xhr.addEventListener('load', async () => {
        const isJson = /json/.test(xhr.getResponseHeader('Content-Type') ?? '');
        const body = isJson && xhr.responseText ? JSON.parse(xhr.responseText) : null;
        if (xhr.status === 401 && !retried && await askForKey()) { send(true); return; }
        if (xhr.status === 201) resolve(body);
        else reject(new ApiError(xhr.status, body));
      });
      xhr.addEventListener('error', () => reject(new Error('The upload failed: the network connection was lost.')));
      const form = new FormData();
      form.append('file', file, file.name);
      xhr.send(form);
    };
    send(false);
  });
}

/** ws:// URL of the realtime channel; the key travels as api_key since a browser WebSocket cannot set headers. */
export function realtimeUrl(params) {
  const url = new URL('/v1/realtime', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
  }
  const key = apiKey();
  if (key) url.searchParams.set('api_key', key);
  return url.toString();
}
