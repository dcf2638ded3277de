-- CreateTable
CREATE TABLE "ledger_daily" (
    "day" DATE NOT NULL,
    "api_key_id" UUID NOT NULL,
    "model" TEXT NOT NULL,
    "status" "JobStatus" NOT NULL,
    "entries" BIGINT NOT NULL,
    "amount_micros" BIGINT NOT NULL,

    CONSTRAINT "ledger_daily_pkey" PRIMARY KEY ("api_key_id","day","model","status")
);

-- CreateIndex
CREATE INDEX "ledger_daily_day_idx" ON "ledger_daily"("day");

-- CreateIndex
CREATE INDEX "jobs_api_key_id_model_created_at_id_idx" ON "jobs"("api_key_id", "model", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "jobs_api_key_id_status_created_at_id_idx" ON "jobs"("api_key_id", "status", "created_at" DESC, "id" DESC);

-- AddForeignKey
ALTER TABLE "ledger_daily" ADD CONSTRAINT "ledger_daily_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Each ledger entry adds itself to its day's row. The ledger only grows
-- (ledger_entries_append_only), so insert is the one event to follow.
CREATE FUNCTION ledger_daily_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ledger_daily (day, api_key_id, model, status, entries, amount_micros)
  VALUES ((NEW.created_at AT TIME ZONE 'UTC')::date, NEW.api_key_id, NEW.model, NEW.status, 1, NEW.amount_micros)
  ON CONFLICT (api_key_id, day, model, status) DO UPDATE
    SET entries = ledger_daily.entries + 1, amount_micros = ledger_daily.amount_micros + EXCLUDED.amount_micros;
  RETURN NULL;
END $$;

CREATE TRIGGER ledger_daily_add AFTER INSERT ON "ledger_entries"
  FOR EACH ROW EXECUTE FUNCTION ledger_daily_add();

-- Entries written before this migration.
INSERT INTO ledger_daily (day, api_key_id, model, status, entries, amount_micros)
SELECT (created_at AT TIME ZONE 'UTC')::date, api_key_id, model, status, count(*), sum(amount_micros)
FROM ledger_entries GROUP BY 1, 2, 3, 4;
