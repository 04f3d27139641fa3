// Русские строки страниц merge; ключи те же, что в merge.en.ts.
import type { MergeKey } from './merge.en';

export const mergeRu: Record<MergeKey, string> = {
};
