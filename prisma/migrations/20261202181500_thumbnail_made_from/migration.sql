-- What each thumbnail was made from (the image's sha256 and the recipe), so the
-- same image is not shrunk again: after a restart, or in another job.

-- AlterTable
ALTER TABLE "job_thumbnails" ADD COLUMN     "made_from" TEXT;

-- CreateIndex
CREATE INDEX "job_thumbnails_made_from_idx" ON "job_thumbnails"("made_from");
