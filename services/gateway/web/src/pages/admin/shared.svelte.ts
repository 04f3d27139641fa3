// What every section of the administration shares: reading problems into
// field errors, the conflict notice of a 412, and whether the signed-in
// user may change what the API reserves to admins.
import { onMount } from 'svelte';
import { describe, type Problem } from '../../lib/api';
import { setReady } from '../../lib/router.svelte';
import { auth } from '../../lib/session.svelte';

export type Errs = Record<string, string[]>;

/** The admin role proper (managers may change most setup, not all). */
export function isAdmin(): boolean {
  return (auth.session?.roles ?? []).includes('admin');
}

/**
 * One form's answer from the API: the messages of a 422 by field path
 * (name, ladder_minutes/1, week/saturday/0), a line for anything else, and
 * whether the record had changed underneath (412).
 */
export class Form {
  errs = $state<Errs>({});
  general = $state('');
  conflict = $state(false);
  ok = $state('');

  clear() {
    this.errs = {};
    this.general = '';
    this.conflict = false;
    this.ok = '';
  }

  /** Reads a problem; known(field) says whether the form shows that field's errors itself. */
  take(p: unknown, known: (field: string) => boolean = () => true) {
    const pr = (p ?? {}) as Problem;
    const errs: Errs = {};
    const rest: string[] = [];
    for (const e of pr.errors ?? []) {
      if (e.field && known(e.field)) (errs[e.field] ??= []).push(e.message);
      else rest.push(e.field ? `${e.field}: ${e.message}` : e.message);
    }
    this.errs = errs;
    this.conflict = pr.status === 412;
    this.general = this.conflict ? '' : !pr.errors?.length ? describe(pr) : rest.join('; ');
  }

  /** The messages of field and, with deep, of everything under it. */
  of(field: string, deep = false): string[] {
    if (!deep) return this.errs[field] ?? [];
    return Object.entries(this.errs)
      .filter(([f]) => f === field || f.startsWith(field + '/'))
      .flatMap(([, m]) => m);
  }

  has(field: string, deep = false): boolean {
    return this.of(field, deep).length > 0;
  }
}

/**
 * Runs a section's first load when it mounts: a failure becomes form's
 * general line; either way the page is ready after it. Call it while the
 * component initialises; loaded turns true once the load has ended.
 */
export function loadOnMount(form: Form, load: () => Promise<unknown>): { loaded: boolean } {
  const page = $state({ loaded: false });
  onMount(async () => {
    try {
      await load();
    } catch (e) {
      form.general = describe(e);
    } finally {
      page.loaded = true;
      setReady(true);
    }
  });
  return page;
}

/** A decimal string ("98.25") as the locale writes numbers, without going through a float. */
export function fmtDecimal(s: string, lang: string): string {
  const [int, frac] = s.split('.');
  const loc = lang === 'ru' ? 'ru-RU' : 'en-GB';
  let whole: string;
  try {
    whole = new Intl.NumberFormat(loc).format(BigInt(int || '0'));
  } catch {
    whole = int;
  }
  if (!frac) return whole;
  const sep = new Intl.NumberFormat(loc).formatToParts(1.5).find((p) => p.type === 'decimal')?.value ?? '.';
  return whole + sep + frac;
}

/** Moves item i of list by one place up (-1) or down (+1), returning a new list. */
export function moved<T>(list: T[], i: number, by: number): T[] {
  const j = i + by;
  if (j < 0 || j >= list.length) return list;
  const out = list.slice();
  [out[i], out[j]] = [out[j], out[i]];
  return out;
}
