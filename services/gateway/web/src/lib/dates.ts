// Small local-time helpers for date and time inputs.
const pad = (n: number) => String(n).padStart(2, '0');

/** YYYY-MM-DD of a Date in the browser's zone. */
export function ymd(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
/** HH:MM of a Date in the browser's zone. */
export function hm(d: Date): string {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
/** A local date and time from inputs as an RFC 3339 instant. */
export function instant(date: string, time: string): string {
  return new Date(`${date}T${time || '00:00'}:00`).toISOString();
}
export function startOfDay(date: string): Date {
  return new Date(`${date}T00:00:00`);
}
export function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}
