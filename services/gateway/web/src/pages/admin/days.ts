// The weekdays as the calendars' API names them, Monday first as people here count.
import { i18n } from '../../lib/i18n.svelte';
export const days = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type Day = (typeof days)[number];
export const dayKey = {
  monday: 'day.mon',
  tuesday: 'day.tue',
  wednesday: 'day.wed',
  thursday: 'day.thu',
  friday: 'day.fri',
  saturday: 'day.sat',
  sunday: 'day.sun',
} as const;

/** The weekday's full name in the page's language (Monday, понедельник). */
export function weekdayName(d: Day): string {
  // 2024-01-01 was a Monday.
  const date = new Date(Date.UTC(2024, 0, 1 + days.indexOf(d)));
  const name = new Intl.DateTimeFormat(i18n.lang === 'ru' ? 'ru-RU' : 'en-GB', { weekday: 'long', timeZone: 'UTC' }).format(date);
  return name.charAt(0).toUpperCase() + name.slice(1);
}
