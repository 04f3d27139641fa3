// English strings of the filters pages; every key must exist in filters.ru.ts too.
export const filtersEn = {
} as const;

export type FiltersKey = keyof typeof filtersEn;
