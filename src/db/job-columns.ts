// The jobs table's columns, derived from Prisma's model (schema.prisma is
// where they are declared): every raw-SQL list of job columns is built from
// these, and test/job-columns.test.ts checks them against the real table.
import { Prisma } from '../generated/prisma/client.js';
import { getDatamodel } from '../generated/pothos-types.js';

/** A property of Prisma's Job (camelCase). */
export type JobProperty = `${Prisma.JobScalarFieldEnum}`;

/** camelCase → snake_case, as schema.prisma maps every property to its column. */
type Snake<S extends string> = S extends `${infer H}${infer T}` ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${Snake<T>}` : S;

/** A column of jobs (snake_case). */
export type JobColumn = Snake<JobProperty>;

export function columnOf<P extends JobProperty>(property: P): Snake<P> {
  return property.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) as Snake<P>;
}

/** How a column travels in JSON built by SQL: bigints as text, dates as ISO strings. */
export type ColumnKind = 'bigint' | 'date' | undefined;

const TYPES = new Map(getDatamodel().datamodel.models.Job!.fields.map((f) => [f.name, f.type]));

/** Every column of jobs, in Prisma's order, with its property and how it travels in JSON. */
export const JOB_COLUMNS: ReadonlyArray<{ property: JobProperty; column: JobColumn; kind: ColumnKind }> = Object.values(Prisma.JobScalarFieldEnum).map((property) => {
  const type = TYPES.get(property);
  return { property, column: columnOf(property), kind: type === 'BigInt' ? 'bigint' : type === 'DateTime' ? 'date' : undefined };
});
