// Русские строки (filters); ключи те же, что в filters.en.ts.
import type { FiltersKey } from './filters.en';

export const filtersRu: Record<FiltersKey, string> = {
};
