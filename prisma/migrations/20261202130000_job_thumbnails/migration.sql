-- The dashboard's thumbnails of a job's images (src/server/thumbnails.ts), so
-- that erasing the job erases them too: a face's thumbnail is the face.

-- CreateTable
CREATE TABLE "job_thumbnails" (
    "job_id" UUID NOT NULL,
    "source" TEXT NOT NULL,
    "key" TEXT NOT NULL,

    CONSTRAINT "job_thumbnails_pkey" PRIMARY KEY ("job_id","source")
);

-- CreateIndex
CREATE INDEX "job_thumbnails_key_idx" ON "job_thumbnails"("key");

-- AddForeignKey
ALTER TABLE "job_thumbnails" ADD CONSTRAINT "job_thumbnails_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
