// English strings of the admin pages; every key must exist in admin.ru.ts too.
export const adminEn = {
} as const;

export type AdminKey = keyof typeof adminEn;
