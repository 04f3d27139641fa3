// English strings of the import pages; every key must exist in import.ru.ts too.
export const importEn = {
} as const;

export type ImportKey = keyof typeof importEn;
