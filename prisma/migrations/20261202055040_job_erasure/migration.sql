-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "deleted_at" TIMESTAMPTZ(3),
ADD COLUMN     "images_erased_at" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "jobs_images_kept_idx" ON "jobs"("finished_at") WHERE (images_erased_at IS NULL);

-- CreateIndex
CREATE INDEX "jobs_not_deleted_idx" ON "jobs"("finished_at") WHERE (deleted_at IS NULL);
