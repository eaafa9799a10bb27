-- The values behind the placeholders each job's messages received (only
-- those: a placeholder a miner invents is not restored), for putting them back
-- into its answer (api/privacy/restore.ts). Jobs without redaction give no row.
SELECT j.id AS job_id, p.placeholder, p.value
FROM mia.jobs AS j
JOIN mia.pii_placeholders AS p
  ON p.business_id = j.business_id AND p.session_id = j.session_id AND p.placeholder = ANY (j.pii_placeholders)
WHERE j.id = ANY (:job_ids::uuid[]) AND j.pii_placeholders IS NOT NULL
