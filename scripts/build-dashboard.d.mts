export function buildDashboard(opts?: { quiet?: boolean }): Promise<{ dir: string; bytes: number } | null>;
