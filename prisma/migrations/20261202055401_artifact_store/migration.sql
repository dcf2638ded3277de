-- CreateTable
CREATE TABLE "artifacts" (
    "key" TEXT NOT NULL,
    "content" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "artifacts_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "artifact_receipts" (
    "job_id" UUID NOT NULL,
    "receipt" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "artifact_receipts_pkey" PRIMARY KEY ("job_id")
);

-- Images are compressed already: store them out of line without trying pglz,
-- which also lets substring() read a slice without fetching the whole value
-- (PostgresArtifactStore.open streams in slices).
ALTER TABLE "artifacts" ALTER COLUMN "content" SET STORAGE EXTERNAL;
