// Typed API clients (openapi-fetch), one per service, all on the page's origin.
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths as ContactsPaths } from '../api/contacts';
import type { paths as SalesPaths } from '../api/sales';
import type { paths as TasksPaths } from '../api/tasks';
import { auth, login } from './session.svelte';

const session: Middleware = {
  onRequest({ request }) {
    // A parent tenant's admin reads a department by naming it.
    if (auth.department) request.headers.set('Rapport-Tenant', auth.department);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      request.headers.set('X-CSRF-Token', auth.session?.csrf ?? '');
    }
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) login();
    return response;
  },
};

function client<P extends {}>() {
  const c = createClient<P>({ baseUrl: '', credentials: 'same-origin' });
  c.use(session);
  return c;
}

export const contacts = client<ContactsPaths>();
export const sales = client<SalesPaths>();
export const tasks = client<TasksPaths>();

export interface FieldError {
  field: string;
  message: string;
}
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  request_id?: string;
  errors?: FieldError[];
  [k: string]: unknown;
}

/** The problem's slug: https://rapport.dev/problems/<slug>. */
export function slug(p: Problem | undefined | null): string {
  return (p?.type ?? '').split('/').pop() ?? '';
}

/** A problem or any thrown value as one line for a person. */
export function describe(e: unknown): string {
  if (e && typeof e === 'object' && ('title' in e || 'detail' in e)) {
    const p = e as Problem;
    return [p.title, p.detail].filter(Boolean).join(': ');
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

export const etag = (version: number) => `"${version}"`;

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

export function newKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
