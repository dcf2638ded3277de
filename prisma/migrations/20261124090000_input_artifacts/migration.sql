-- Inline image inputs (a data: URI or base64 in an image field of jobs.params)
-- move to the artifact store, where outputs already are; a job keeps a
-- reference, { "artifact": { "key", "sha256", ... } } (src/services/input-artifacts.ts).
-- SQL cannot write the artifact store, so this migration only draws the line:
-- a trigger refuses any inline image written from now on, and a partial index
-- lists the rows written before, which the service moves at start
-- (src/services/input-migration.ts). Once moved, a row leaves the index; an
-- empty index is the mark that the move is done, read with one index probe.

-- Whether a job's params hold an inline image: a string that is not an http(s)
-- URL in one of the image fields of every model (test/input-artifacts.test.ts
-- keeps the names in step with the registry). One expression, so the planner
-- inlines it: about 4 µs a row, evaluated on each insert by the trigger and
-- the index below (a jsonb_each over the fields took 15).
CREATE FUNCTION jobs_params_inline_images(params jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(
       (jsonb_typeof(params -> 'source_image') = 'string' AND (params ->> 'source_image') !~* '^https?://')
    OR (jsonb_typeof(params -> 'target_image') = 'string' AND (params ->> 'target_image') !~* '^https?://')
    OR (jsonb_typeof(params -> 'source_img') = 'string' AND (params ->> 'source_img') !~* '^https?://')
    OR (jsonb_typeof(params -> 'target_img') = 'string' AND (params ->> 'target_img') !~* '^https?://')
    OR (jsonb_typeof(params -> 'mask_image') = 'string' AND (params ->> 'mask_image') !~* '^https?://')
    OR (jsonb_typeof(params -> 'reference_character_image') = 'string' AND (params ->> 'reference_character_image') !~* '^https?://')
    OR (jsonb_typeof(params -> 'character_image') = 'string' AND (params ->> 'character_image') !~* '^https?://'),
    false)
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
