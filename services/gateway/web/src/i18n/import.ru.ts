// Русские строки страниц import; ключи те же, что в import.en.ts.
import type { ImportKey } from './import.en';

export const importRu: Record<ImportKey, string> = {
};
