// Русские строки страниц deal; ключи те же, что в deal.en.ts.
import type { DealKey } from './deal.en';

export const dealRu: Record<DealKey, string> = {
};
