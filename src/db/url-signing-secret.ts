// The deployment's secret for signed links (src/util/url-signing.ts). Every API
// process must verify what any other signed (behind a load balancer, a page and its
// images reach different processes), so it lives in the database: the first
// process to start makes it, the others read the same row.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';

export async function loadUrlSigningSecret(pool: pg.Pool): Promise<Buffer> {
  // Two processes starting at once: both insert, one wins. The loser's statement
  // waited for the winner's commit, but its snapshot predates it: it reads again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const { rows } = await pool.query<{ secret: Buffer }>(
      `WITH made AS (
         INSERT INTO url_signing_secrets (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING RETURNING secret
       )
       SELECT secret FROM made UNION ALL SELECT secret FROM url_signing_secrets WHERE id = 1
       LIMIT 1`,
      [randomBytes(32)],
    );
    if (rows[0]) return rows[0].secret;
  }
  throw new Error('url_signing_secrets holds no secret after three tries');
}
