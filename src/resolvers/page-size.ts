// The page size of every connection. Apart from jobs-connection.ts so the schema
// builder can price connections by it without an import cycle.
import { badInput } from '../util/request-errors.js';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

/** A connection's page size: 1 to MAX_PAGE_SIZE, or a BAD_USER_INPUT error naming `field`. */
export function pageSize(value: number, field: string): number {
  if (value < 1 || value > MAX_PAGE_SIZE) throw badInput(field, 'range', `must be between 1 and ${MAX_PAGE_SIZE}`);
  return value;
}
