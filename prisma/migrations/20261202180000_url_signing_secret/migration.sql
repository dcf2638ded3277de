-- The secret of signed links (src/util/url-signing.ts), one row, made by the first
-- process to start (src/db/url-signing-secret.ts), always with id 1. (No CHECK
-- constraint says so: Prisma's wasm schema engine panics diffing one, which
-- test/migrations.test.ts's drift check does.)

-- CreateTable
CREATE TABLE "url_signing_secrets" (
    "id" INTEGER NOT NULL,
    "secret" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "url_signing_secrets_pkey" PRIMARY KEY ("id")
);
