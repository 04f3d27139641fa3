// English strings of the deal pages; every key must exist in deal.ru.ts too.
export const dealEn = {
} as const;

export type DealKey = keyof typeof dealEn;
