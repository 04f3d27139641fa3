// A windowed list paged by cursor: it keeps only the rows in view (plus a
// few) in the page, fetches the next page as the view nears the end, and
// starts over (aborting what is in flight) when its query changes. The
// contacts and companies lists are two of these.
import { describe, isAbort } from './api';

/** Every row's height in px (.vrow in app.css). */
export const ROW = 48;
/** Rows kept beyond each edge of the view. */
const OVERSCAN = 8;
/** Rows asked for at a time. */
export const PAGE = 50;

export interface Page<T> {
  items: T[];
  next_cursor?: string;
}

/** One page's answer as openapi-fetch gives it. */
export type Fetch<T> = (cursor: string | undefined, signal: AbortSignal) => Promise<{ data?: Page<T>; error?: unknown }>;

export class CursorList<T extends { id: string }> {
  items = $state.raw<T[]>([]);
  done = $state(false);
  loading = $state(false);
  error = $state('');
  /** True once the first page (or its failure) is in. */
  loaded = $state(false);
  scrollTop = $state(0);
  viewH = $state(600);

  readonly start = $derived(Math.max(0, Math.floor(this.scrollTop / ROW) - OVERSCAN));
  readonly end = $derived(Math.min(this.items.length, Math.ceil((this.scrollTop + this.viewH) / ROW) + OVERSCAN));
  /** The rows to render, each with its index (its place is index × ROW). */
  readonly visible = $derived(this.items.slice(this.start, this.end).map((row, k) => ({ row, i: this.start + k })));

  #cursor: string | undefined;
  #ctrl: AbortController | null = null;
  #scroller: HTMLElement | undefined;
  #fetch: Fetch<T>;
  #onPage: (rows: T[]) => void;
  #problem: (error: unknown) => string;

  /** fetch asks for a page; onPage sees each page's rows; problem words a refusal. */
  constructor(fetch: Fetch<T>, opts: { onPage?: (rows: T[]) => void; problem?: (error: unknown) => string } = {}) {
    this.#fetch = fetch;
    this.#onPage = opts.onPage ?? (() => {});
    this.#problem = opts.problem ?? describe;
  }

  /** From the first page again (reset), or the next page. */
  async load(reset: boolean): Promise<void> {
    if (reset) {
      this.#ctrl?.abort();
      this.#cursor = undefined;
      this.done = false;
      this.error = '';
    } else if (this.loading || this.done) return;
    const my = new AbortController();
    this.#ctrl = my;
    this.loading = true;
    try {
      const { data, error } = await this.#fetch(this.#cursor, my.signal);
      if (this.#ctrl !== my) return;
      if (error || !data) {
        this.error = this.#problem(error);
        this.done = true;
        if (reset) this.items = [];
      } else {
        this.items = reset ? data.items : this.items.concat(data.items);
        this.#onPage(data.items);
        this.#cursor = data.next_cursor;
        this.done = !this.#cursor;
        if (reset && this.#scroller) {
          this.#scroller.scrollTop = 0;
          this.scrollTop = 0;
        }
      }
    } catch (e) {
      if (isAbort(e)) return;
      this.error = describe(e);
    } finally {
      if (this.#ctrl === my) {
        this.loading = false;
        this.loaded = true;
      }
    }
    // Keep filling while the list is shorter than its window.
    if (!this.done && this.items.length * ROW < this.viewH + ROW * OVERSCAN && this.#ctrl === my) void this.load(false);
  }

  /** The scroll container's onscroll. */
  onScroll = () => {
    if (!this.#scroller) return;
    this.scrollTop = this.#scroller.scrollTop;
    if (!this.done && !this.loading && this.end >= this.items.length - OVERSCAN) void this.load(false);
  };

  /** Follows the scroll container's height; the returned function lets go and stops loading. */
  attach(scroller: HTMLElement): () => void {
    this.#scroller = scroller;
    this.viewH = scroller.clientHeight;
    const ro = new ResizeObserver(() => (this.viewH = scroller.clientHeight));
    ro.observe(scroller);
    return () => {
      ro.disconnect();
      this.#ctrl?.abort();
    };
  }
}
