// English strings of the merge pages; every key must exist in merge.ru.ts too.
export const mergeEn = {
} as const;

export type MergeKey = keyof typeof mergeEn;
