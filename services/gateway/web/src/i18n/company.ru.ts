// Русские строки (company); ключи те же, что в company.en.ts.
import type { CompanyKey } from './company.en';

export const companyRu: Record<CompanyKey, string> = {
};
