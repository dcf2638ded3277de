-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "rerun_of_id" UUID;

-- CreateTable
CREATE TABLE "upstream_rate_windows" (
    "provider" TEXT NOT NULL,
    "window_start" TIMESTAMPTZ(3) NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "upstream_rate_windows_pkey" PRIMARY KEY ("provider","window_start")
);

-- CreateIndex
CREATE INDEX "jobs_rerun_of_id_idx" ON "jobs"("rerun_of_id");

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_rerun_of_id_fkey" FOREIGN KEY ("rerun_of_id") REFERENCES "jobs"("id") ON DELETE SET NULL ON UPDATE CASCADE;
