-- The secret of signed links (src/util/url-signing.ts), one row, made by the first
-- process to start (src/db/url-signing-secret.ts).

-- CreateTable
CREATE TABLE "url_signing_secrets" (
    "id" INTEGER NOT NULL,
    "secret" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "url_signing_secrets_pkey" PRIMARY KEY ("id")
);

-- One secret per deployment.
ALTER TABLE "url_signing_secrets" ADD CONSTRAINT "url_signing_secrets_one_row" CHECK ("id" = 1);
