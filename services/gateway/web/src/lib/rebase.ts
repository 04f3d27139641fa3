// After a 412 (someone saved the record while a person edited it): the
// fresh record becomes the form's base, the fields the person did not touch
// take the fresh values, and the fields both changed differently are
// clashes the person settles — what they typed is never silently lost.

export interface Clash<K extends string = string> {
  key: K;
  /** The fresh value and the person's, as shown to them. */
  theirs: string;
  mine: string;
}

/** How a form reads, writes, compares and shows its fields. */
export interface Fields<K extends string, D> {
  get(d: D, key: K): unknown;
  set(d: D, key: K, v: unknown): void;
  same(key: K, a: unknown, b: unknown): boolean;
  shown(key: K, v: unknown): string;
  label(key: K): string;
}

/** Rebases draft (edited from base) onto fresh in place; returns the clashes and the labels of what the other person changed. */
export function rebase<K extends string, D>(keys: readonly K[], base: D, draft: D, fresh: D, f: Fields<K, D>): { clashes: Clash<K>[]; theirs: string[] } {
  const clashes: Clash<K>[] = [];
  const theirs: string[] = [];
  for (const key of keys) {
    const mine = !f.same(key, f.get(draft, key), f.get(base, key));
    const moved = !f.same(key, f.get(fresh, key), f.get(base, key));
    if (moved) theirs.push(f.label(key));
    if (!mine) f.set(draft, key, f.get(fresh, key));
    else if (moved && !f.same(key, f.get(draft, key), f.get(fresh, key)))
      clashes.push({ key, theirs: f.shown(key, f.get(fresh, key)), mine: f.shown(key, f.get(draft, key)) });
  }
  return { clashes, theirs };
}
