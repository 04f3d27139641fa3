// The signed-in user's session, read from the gateway's /auth/session.
export interface Session {
  tenant_id: string;
  user: string;
  roles: string[];
  team: string;
  locale: string;
  csrf: string;
  dev: boolean;
  /** The tenant's display name, when the gateway gives it. */
  tenant_name?: string;
  /** When the session ends (RFC 3339), when the gateway gives it. */
  expires?: string;
}

export const auth = $state({ session: null as Session | null });

export function login(): never {
  const back = location.pathname + location.search;
  location.assign('/auth/login?return=' + encodeURIComponent(back));
  throw new Error('redirecting to sign-in');
}

export async function loadSession(): Promise<Session> {
  const r = await fetch('/auth/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (r.status === 401) login();
  if (!r.ok) throw new Error(`session: HTTP ${r.status}`);
  const s = (await r.json()) as Session;
  auth.session = s;
  return s;
}

export async function logout() {
  try {
    await fetch('/auth/logout', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': auth.session?.csrf ?? '' },
    });
  } finally {
    location.assign('/');
  }
}

export function isManager(): boolean {
  const r = auth.session?.roles ?? [];
  return r.includes('admin') || r.includes('manager');
}
