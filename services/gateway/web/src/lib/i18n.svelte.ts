// Language state, translation and Intl formatting.
import { en, type Key } from '../i18n/en';
import { ru } from '../i18n/ru';

export type Lang = 'ru' | 'en';
const dicts = { en, ru } as const;
const STORE = 'rapport.lang';

export const i18n = $state({ lang: 'en' as Lang });

function pick(v: string | null | undefined): Lang | null {
  if (!v) return null;
  const l = v.toLowerCase();
  if (l.startsWith('ru')) return 'ru';
  if (l.startsWith('en')) return 'en';
  return null;
}

/** Chooses the language: the stored choice, else the session's locale, else the browser's. */
export function initLang(sessionLocale: string | undefined) {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(STORE);
  } catch {
    /* storage may be off */
  }
  setLang(pick(stored) ?? pick(sessionLocale) ?? pick(navigator.language) ?? 'en', false);
}

export function setLang(l: Lang, remember = true) {
  i18n.lang = l;
  document.documentElement.lang = l;
  if (remember) {
    try {
      localStorage.setItem(STORE, l);
    } catch {
      /* ignore */
    }
  }
}

export function t(key: Key, params?: Record<string, string | number>): string {
  let s: string = dicts[i18n.lang][key] ?? en[key] ?? key;
  if (params) for (const [k, v] of Object.entries(params)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** A translated kind (call, meeting…), or the raw kind for the tenant's own kinds. */
export function kindLabel(kind: string): string {
  const k = `kind.${kind}` as Key;
  return k in en ? t(k) : kind;
}

const locale = () => (i18n.lang === 'ru' ? 'ru-RU' : 'en-GB');

export function fmtDateTime(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return '';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(new Date(iso));
}
export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return '';
  // A bare date (YYYY-MM-DD) is a calendar day: format it in UTC so it does not shift.
  const d = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? new Date(iso + 'T00:00:00Z') : new Date(iso);
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeZone: iso.length === 10 ? 'UTC' : undefined }).format(d);
}
export function fmtTime(iso: string | Date, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale(), { timeStyle: 'short', timeZone }).format(typeof iso === 'string' ? new Date(iso) : iso);
}
/** A wall-clock time without zone ("2027-01-15T10:00") as the client reads it. */
export function fmtWall(local: string): string {
  const d = new Date(local.length === 16 ? local + ':00Z' : local + 'Z');
  if (isNaN(d.getTime())) return local;
  return new Intl.DateTimeFormat(locale(), { weekday: 'short', hour: '2-digit', minute: '2-digit', timeZone: 'UTC' }).format(d);
}
/** A span of minutes as people say it: 5 min, 3 h, 1 d (5 мин, 3 ч, 1 д). */
export function fmtMinutes(m: number): string {
  const [value, unit] = m % 1440 === 0 ? [m / 1440, 'day'] : m % 60 === 0 ? [m / 60, 'hour'] : [m, 'minute'];
  return new Intl.NumberFormat(locale(), { style: 'unit', unit, unitDisplay: 'short' }).format(value);
}

export function fmtNumber(n: number): string {
  return new Intl.NumberFormat(locale()).format(n);
}

// Currencies the API keeps without minor units though ISO 4217 gives them some.
const ZERO = new Set('AFN ALL AMD COP GYD IDR IQD IRR KPW LAK LBP MGA MMK MNT MUR PKR RSD SOS SYP TZS UZS YER'.split(' '));
export function minorDigits(currency: string): number {
  if (ZERO.has(currency)) return 0;
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}
/** Money given in minor units of its currency. */
export function fmtMoney(minor: number | null | undefined, currency: string): string {
  if (minor === null || minor === undefined) return '';
  const digits = minorDigits(currency);
  try {
    return new Intl.NumberFormat(locale(), {
      style: 'currency',
      currency,
      currencyDisplay: 'narrowSymbol',
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(minor / 10 ** digits);
  } catch {
    return `${minor / 10 ** digits} ${currency}`;
  }
}
/** Major units typed by a person (1 500,50) to minor units. */
export function toMinor(text: string, currency: string): number | null {
  const clean = text.replace(/[\s\u00a0]/g, '').replace(',', '.');
  if (clean === '') return null;
  const n = Number(clean);
  if (!isFinite(n) || n < 0) return NaN;
  return Math.round(n * 10 ** minorDigits(currency));
}
