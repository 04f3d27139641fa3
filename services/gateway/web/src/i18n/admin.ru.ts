// Русские строки страниц admin; ключи те же, что в admin.en.ts.
import type { AdminKey } from './admin.en';

export const adminRu: Record<AdminKey, string> = {
};
