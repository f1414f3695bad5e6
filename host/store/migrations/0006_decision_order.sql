-- Medic's store in PostgreSQL, version 6: decisions numbered in the order
-- they were stored. Each replica keeps every module's kill times of the
-- week in memory and reads only the decisions stored since it last looked
-- (by any replica), instead of counting a module's kills for every kill.
ALTER TABLE decisions ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE INDEX decisions_by_seq ON decisions (seq);

-- A decision's record (~2.6 kB of JSON) is compressed as it is stored:
-- with lz4 where the server was built with it, which takes a fraction of
-- the CPU of PostgreSQL's default (pglz). A server without it keeps pglz.
DO $$
BEGIN
    ALTER TABLE decisions ALTER COLUMN record SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available on this server: decisions stay compressed with pglz';
END
$$;
