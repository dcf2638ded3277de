-- Credit readings move out of the ledger: the worker now reads the upstream's
-- balance after a paid job has completed, off the path of its completion, and
-- the ledger is append-only, so a reading taken later cannot go on its entry.

-- CreateTable
CREATE TABLE "upstream_credit_readings" (
    "job_id" UUID NOT NULL,
    "credits_micros" BIGINT NOT NULL,
    "read_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "upstream_credit_readings_pkey" PRIMARY KEY ("job_id")
);

-- AddForeignKey
ALTER TABLE "upstream_credit_readings" ADD CONSTRAINT "upstream_credit_readings_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Readings already taken keep their place (read_at: when their charge was settled).
INSERT INTO "upstream_credit_readings" ("job_id", "credits_micros", "read_at")
SELECT "job_id", "upstream_credits_micros", "created_at" FROM "ledger_entries" WHERE "upstream_credits_micros" IS NOT NULL;

-- AlterTable
ALTER TABLE "ledger_entries" DROP COLUMN "upstream_credits_micros";
