-- Inline image inputs (a data: URI or base64 in an image field of jobs.params)
-- move to the artifact store, where outputs already are; a job keeps a
-- reference, { "artifact": { "key", "sha256", ... } } (src/services/input-artifacts.ts).
-- SQL cannot write the artifact store, so this migration only draws the line:
-- a trigger refuses any inline image written from now on, and a partial index
-- lists the rows written before, which the service moves at start
-- (src/services/input-migration.ts). Once moved, a row leaves the index; an
-- empty index is the mark that the move is done, read with one index probe.

-- Whether a job's params hold an inline image. The names are the image fields
-- of every model (test/input-artifacts.test.ts keeps them in step with the registry).
CREATE FUNCTION jobs_params_inline_images(params jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_typeof(params) = 'object' AND EXISTS (
    SELECT 1 FROM jsonb_each(params) AS f(name, value)
    WHERE f.name IN ('source_image', 'target_image', 'source_img', 'target_img', 'mask_image',
                     'reference_character_image', 'character_image')
      AND jsonb_typeof(f.value) = 'string' AND (f.value #>> '{}') !~* '^https?://'
  )
$$;

-- The rows still to move (empty once they are).
CREATE INDEX "jobs_inline_inputs_idx" ON "jobs"("id") WHERE jobs_params_inline_images(params);

-- Not a CHECK constraint: Prisma's schema engine cannot diff a table that has one.
-- UPDATE OF params only, so a status change of a row not moved yet still goes through.
CREATE FUNCTION jobs_refuse_inline_images() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'jobs.params must not hold an inline image: keep it in the artifact store and store its reference'
    USING ERRCODE = 'check_violation';
END
$$;
CREATE TRIGGER jobs_no_inline_images BEFORE INSERT OR UPDATE OF params ON jobs
  FOR EACH ROW WHEN (jobs_params_inline_images(NEW.params)) EXECUTE FUNCTION jobs_refuse_inline_images();
