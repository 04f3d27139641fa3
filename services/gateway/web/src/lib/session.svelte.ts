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
  /** Tenants below the user's that an admin may read (read only). */
  departments?: { id: string; name: string }[];
}

const DEPARTMENT = 'rapport.department';

/** department is the department being viewed (its id), or null for the user's own tenant. */
export const auth = $state({ session: null as Session | null, department: null as string | null });

/** Views a department (read only), or the user's own tenant with null; the page reloads. */
export function viewDepartment(id: string | null) {
  try {
    if (id) sessionStorage.setItem(DEPARTMENT, id);
    else sessionStorage.removeItem(DEPARTMENT);
  } catch {
    /* storage may be off */
  }
  location.reload();
}

/** The department being viewed, if the session still offers it. */
function storedDepartment(s: Session): string | null {
  let id: string | null = null;
  try {
    id = sessionStorage.getItem(DEPARTMENT);
  } catch {
    /* storage may be off */
  }
  return id && (s.departments ?? []).some((d) => d.id === id) ? id : null;
}

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
  auth.department = storedDepartment(s);
  return s;
}

export async function logout() {
  // The gateway says where to go: the identity provider's logout (which
  // ends its session too) or the signed-out page.
  let next = '/auth/signed-out';
  try {
    const r = await fetch('/auth/logout', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': auth.session?.csrf ?? '' },
    });
    if (r.status === 200) {
      const body = (await r.json()) as { redirect?: unknown };
      if (typeof body.redirect === 'string') next = body.redirect;
    }
  } finally {
    location.assign(next);
  }
}

/** Whether the user sets the tenant up (admins and managers), in their own tenant. */
export function isManager(): boolean {
  const r = auth.session?.roles ?? [];
  return !auth.department && (r.includes('admin') || r.includes('manager'));
}

/** Whether the user may change records: admins, managers and reps, in their own tenant (a department is read only). */
export function canWrite(): boolean {
  const r = auth.session?.roles ?? [];
  return !auth.department && (r.includes('admin') || r.includes('manager') || r.includes('rep'));
}
