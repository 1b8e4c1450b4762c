-- Demo data for deploy/up (psql, as tip_owner; idempotent). Variables: regions_file (the path of
-- proto/taxonomy/regions.json) and hash (an Argon2id hash from `casemgrd hash-password`).
\set regions `cat :'regions_file'`
-- The organisation tree: the national office; under it a provincial office for every provincial-level
-- region; under each a verification unit and a public-security review unit.
INSERT INTO org_units (kind, name)
SELECT 'national', '国家办公室 National office' WHERE NOT EXISTS (SELECT FROM org_units WHERE kind = 'national');

INSERT INTO org_units (parent_id, kind, region, province, name)
SELECT n.id, 'provincial', r ->> 'code', r ->> 'code', (r ->> 'zh') || ' 办公室'
FROM org_units n, jsonb_array_elements(:'regions'::jsonb -> 'regions') AS r
WHERE n.kind = 'national' AND r ->> 'parent' IS NULL
ON CONFLICT (parent_id, name) DO NOTHING;

INSERT INTO org_units (parent_id, kind, region, province, name)
SELECT o.id, k.kind, o.region, o.province, k.name
FROM org_units o, (VALUES ('verification', '核查组 verification unit'), ('review', '公安复核组 review unit')) AS k(kind, name)
WHERE o.kind = 'provincial'
ON CONFLICT (parent_id, name) DO NOTHING;

-- One user per role, all in Beijing where a role has a place, all with the same password.
INSERT INTO users (username, display_name, role, unit_id, password_hash)
SELECT u.username, u.username, u.role,
       (SELECT o.id FROM org_units o WHERE o.kind = u.kind AND (u.kind = 'national' OR o.province = '110000')),
       :'hash'
FROM (VALUES ('demo-national', 'national', 'national'), ('demo-provincial', 'provincial', 'provincial'),
             ('demo-unit', 'unit_officer', 'verification'), ('demo-reviewer', 'reviewer', 'review'),
             ('demo-auditor', 'auditor', 'national'), ('demo-admin', 'administrator', 'national'))
     AS u(username, role, kind)
ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, failed_logins = 0, locked_until = NULL;
