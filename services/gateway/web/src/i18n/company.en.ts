// English strings of the company pages; every key must exist in company.ru.ts too.
export const companyEn = {
} as const;

export type CompanyKey = keyof typeof companyEn;
