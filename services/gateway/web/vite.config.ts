// Vite configuration of Rapport's single-page app.
//
// The build writes dist/index.html and dist/assets/* (hashed names), which
// the gateway serves under a strict Content-Security-Policy: no inline script
// or style, so CSS is always emitted as files.
//
// In development (`npm run dev`) the dev server stands in for the gateway's
// /auth/* endpoints and forwards /v1 to a running platform
// (RAPPORT_API, default http://127.0.0.1:18080), adding
// `Authorization: Bearer $RAPPORT_DEV_TOKEN` (a token from
// `go run ./deploy/local token ...`). None of that is part of the build.
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const api = process.env.RAPPORT_API || 'http://127.0.0.1:18080';
const token = process.env.RAPPORT_DEV_TOKEN || '';

function claims(jwt: string): Record<string, unknown> {
  try {
    const part = jwt.split('.')[1] ?? '';
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return {};
  }
}

type Middlewares = { use(fn: (req: any, res: any, next: () => void) => void): void };

function devAuth(): Plugin {
  return {
    name: 'rapport-dev-auth',
    configureServer(server) {
      install(server.middlewares);
    },
    // `vite preview` serves the built dist/ the same way, under the gateway's CSP.
    configurePreviewServer(server) {
      install(server.middlewares);
    },
  };
}

function install(middlewares: Middlewares) {
      middlewares.use((req, res, next) => {
        const url = new URL(req.url ?? '/', 'http://dev');
        const problem = (status: number, title: string) => {
          res.statusCode = status;
          res.setHeader('Content-Type', 'application/problem+json');
          res.end(JSON.stringify({ type: 'https://rapport.dev/problems/unauthorized', title, status }));
        };
        if (url.pathname === '/auth/session') {
          if (!token) return problem(401, 'Not signed in (set RAPPORT_DEV_TOKEN)');
          const c = claims(token);
          res.setHeader('Content-Type', 'application/json');
          res.end(
            JSON.stringify({
              tenant_id: c.tenant_id ?? '',
              user: c.sub ?? '',
              roles: Array.isArray(c.roles) ? c.roles : [],
              team: c.team ?? '',
              locale: process.env.RAPPORT_DEV_LOCALE ?? '',
              csrf: 'dev',
              dev: true,
            }),
          );
          return;
        }
        if (url.pathname === '/auth/logout' && req.method === 'POST') {
          res.statusCode = 204;
          res.end();
          return;
        }
        if (url.pathname === '/auth/login') {
          res.statusCode = 200;
          res.setHeader('Content-Type', 'text/plain; charset=utf-8');
          res.end('Development: set RAPPORT_DEV_TOKEN and restart `npm run dev` to sign in.');
          return;
        }
        if (url.pathname.startsWith('/v1/') && req.method !== 'GET' && req.method !== 'HEAD') {
          if (req.headers['x-csrf-token'] !== 'dev') return problem(403, 'Missing X-CSRF-Token');
        }
        next();
      });
}

const devProxy = {
  '/v1': {
    target: api,
    changeOrigin: true,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  },
};

export default defineConfig({
  plugins: [svelte(), devAuth()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    cssCodeSplit: true,
    modulePreload: { polyfill: false },
    target: 'es2022',
    // The build is quiet unless something is wrong (make run prints it):
    // rolldown's note on plugin timings is advice, not a warning.
    rolldownOptions: { checks: { pluginTimings: false } },
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    proxy: devProxy,
  },
  preview: {
    host: '127.0.0.1',
    port: 4173,
    strictPort: true,
    proxy: devProxy,
    headers: {
      'Content-Security-Policy':
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    },
  },
});
