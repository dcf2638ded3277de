-- CreateEnum
CREATE TYPE "BudgetPeriod" AS ENUM ('MONTH', 'TOTAL');

-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN     "is_admin" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "charged_micros" BIGINT,
ADD COLUMN     "estimated_micros" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "failure_micros" BIGINT NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "ledger_entries" (
    "id" BIGSERIAL NOT NULL,
    "api_key_id" UUID NOT NULL,
    "job_id" UUID NOT NULL,
    "model" TEXT NOT NULL,
    "status" "JobStatus" NOT NULL,
    "amount_micros" BIGINT NOT NULL,
    "upstream_credits_micros" BIGINT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_entries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "budgets" (
    "api_key_id" UUID NOT NULL,
    "period" "BudgetPeriod" NOT NULL,
    "limit_micros" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "budgets_pkey" PRIMARY KEY ("api_key_id","period")
);

-- CreateIndex
CREATE UNIQUE INDEX "ledger_entries_job_id_key" ON "ledger_entries"("job_id");

-- CreateIndex
CREATE INDEX "ledger_entries_created_at_idx" ON "ledger_entries"("created_at");

-- CreateIndex
CREATE INDEX "ledger_entries_api_key_id_created_at_idx" ON "ledger_entries"("api_key_id", "created_at");

-- CreateIndex
CREATE INDEX "jobs_unsettled_idx" ON "jobs"("api_key_id") WHERE (charged_micros IS NULL);

-- AddForeignKey
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "budgets" ADD CONSTRAINT "budgets_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- The ledger is append-only: a settlement is never edited or removed.
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_entries is append-only: % refused', TG_OP;
END $$;

CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON "ledger_entries"
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only();

-- The budgets a new reservation of p_amount would break, with what each has
-- committed: charges in the period plus the estimates of unsettled jobs.
-- plpgsql and VOLATILE on purpose: called after the per-key lock inside the
-- creation statement, its query takes a fresh snapshot, so it sees every job
-- and charge committed before the lock was granted (the statement's own
-- snapshot is older than that).
CREATE FUNCTION budget_violations(p_key uuid, p_amount bigint)
RETURNS TABLE (period "BudgetPeriod", limit_micros bigint, committed_micros bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT b.period, b.limit_micros, committed.micros
  FROM budgets b
  CROSS JOIN LATERAL (
    SELECT (
      (SELECT coalesce(sum(j.estimated_micros), 0) FROM jobs j
        WHERE j.api_key_id = p_key AND j.charged_micros IS NULL)
      + (SELECT coalesce(sum(l.amount_micros), 0) FROM ledger_entries l
        WHERE l.api_key_id = p_key
          AND (b.period = 'TOTAL' OR l.created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'))
    )::bigint AS micros
  ) committed
  WHERE b.api_key_id = p_key AND committed.micros + p_amount > b.limit_micros;
END $$;
