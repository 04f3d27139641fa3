// A tiny history-API router.
export type Route =
  | { name: 'day' }
  | { name: 'contacts' }
  | { name: 'contact'; id: string }
  | { name: 'board'; pipelineId: string | null }
  | { name: 'companies' }
  | { name: 'company'; id: string }
  | { name: 'deal'; id: string }
  | { name: 'duplicates' }
  | { name: 'import' }
  | { name: 'admin' }
  | { name: 'notfound' };

export function match(path: string): Route {
  const parts = path.replace(/\/+$/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: 'day' };
  const [a, b] = parts;
  if (parts.length > 2) return { name: 'notfound' };
  switch (a) {
    case 'day':
      return b ? { name: 'notfound' } : { name: 'day' };
    case 'contacts':
      return b ? { name: 'contact', id: b } : { name: 'contacts' };
    case 'board':
      return { name: 'board', pipelineId: b ?? null };
    case 'companies':
      return b ? { name: 'company', id: b } : { name: 'companies' };
    case 'deals':
      return b ? { name: 'deal', id: b } : { name: 'notfound' };
    case 'duplicates':
      return b ? { name: 'notfound' } : { name: 'duplicates' };
    case 'import':
      return b ? { name: 'notfound' } : { name: 'import' };
    case 'admin':
      return b ? { name: 'notfound' } : { name: 'admin' };
  }
  return { name: 'notfound' };
}

export const router = $state({ path: location.pathname, search: location.search });

export function navigate(to: string, replace = false) {
  const u = new URL(to, location.href);
  if (u.pathname === router.path && u.search === router.search) return;
  if (replace) history.replaceState(null, '', u.pathname + u.search);
  else history.pushState(null, '', u.pathname + u.search);
  router.path = u.pathname;
  router.search = u.search;
  window.scrollTo(0, 0);
}

export function startRouter() {
  if (location.pathname === '/') history.replaceState(null, '', '/day');
  router.path = location.pathname;
  router.search = location.search;
  addEventListener('popstate', () => {
    router.path = location.pathname;
    router.search = location.search;
  });
  // Same-origin links navigate without a page load.
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
    if (a.pathname.startsWith('/auth/') || a.pathname.startsWith('/v1/')) return;
    e.preventDefault();
    navigate(a.pathname + a.search);
  });
}

/** Tests wait for document.body.dataset.ready === "1". */
export function setReady(v: boolean) {
  document.body.dataset.ready = v ? '1' : '0';
  // The first page with its data on screen: the benchmark's "interactive".
  if (v && performance.getEntriesByName('rapport-ready').length === 0) performance.mark('rapport-ready');
}
