// Filled in by the database test support (see db.ts).
export default async function setup(): Promise<void> {}
