-- Inline image inputs (a data: URI or base64 in an image field of jobs.params)
-- move to the artifact store, where outputs already are; a job keeps a
-- reference, { "artifact": { "key", "sha256", ... } } (src/services/input-artifacts.ts).
-- SQL cannot write the artifact store, so this migration only draws the line:
-- no row written from now on may hold an inline image (the check, NOT VALID so
-- that the rows already there are not checked yet), and the service moves
-- those rows at start (src/services/input-migration.ts), then validates the
-- check, which marks the move done.

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

ALTER TABLE jobs ADD CONSTRAINT jobs_params_no_inline_images CHECK (NOT jobs_params_inline_images(params)) NOT VALID;
