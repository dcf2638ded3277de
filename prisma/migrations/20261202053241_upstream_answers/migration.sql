-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "first_sent_at" TIMESTAMPTZ(3),
ADD COLUMN     "upstream_result_url" TEXT;

-- AlterTable
ALTER TABLE "ledger_entries" ADD COLUMN     "charge_rule" TEXT;

-- CreateTable
CREATE TABLE "upstream_credit_balances" (
    "account" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "taken_at" TIMESTAMPTZ(3) NOT NULL,
    "credits_micros" BIGINT,
    "read_at" TIMESTAMPTZ(3),

    CONSTRAINT "upstream_credit_balances_pkey" PRIMARY KEY ("account","kind")
);
