// Caches of names shown for ids (companies, contacts), filled on demand.
import { SvelteMap } from 'svelte/reactivity';
import { contacts } from './api';

export const companyNames = new SvelteMap<string, string>();
export const contactNames = new SvelteMap<string, { name: string; time_zone: string | null }>();
const pendingCompanies = new Set<string>();
const pendingContacts = new Set<string>();

export function personName(c: { first_name: string; last_name: string; emails?: string[]; phones?: string[] }): string {
  const n = [c.first_name, c.last_name].filter(Boolean).join(' ').trim();
  return n || c.emails?.[0] || c.phones?.[0] || '';
}

export function companyName(id: string | null | undefined): string {
  if (!id) return '';
  const n = companyNames.get(id);
  if (n !== undefined) return n;
  if (!pendingCompanies.has(id)) {
    pendingCompanies.add(id);
    queueMicrotask(async () => {
      const { data } = await contacts.GET('/v1/companies/{id}', { params: { path: { id } } });
      companyNames.set(id, data?.name ?? '');
    });
  }
  return '';
}

export function contactName(id: string | null | undefined): string {
  if (!id) return '';
  const n = contactNames.get(id);
  if (n !== undefined) return n.name;
  if (!pendingContacts.has(id)) {
    pendingContacts.add(id);
    queueMicrotask(async () => {
      const { data } = await contacts.GET('/v1/contacts/{id}', { params: { path: { id } } });
      contactNames.set(id, { name: data ? personName(data) : '', time_zone: data?.timezone ?? null });
    });
  }
  return '';
}
