-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "served_output_bytes" INTEGER,
ADD COLUMN     "served_output_key" TEXT,
ADD COLUMN     "served_output_label" TEXT,
ADD COLUMN     "served_output_sha256" TEXT;
