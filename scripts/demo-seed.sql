-- Synthetic clinic data for scripts/demo. Deterministic and entirely made up: names are
-- combined from short lists, e-mails use example.com, phone numbers are in the fictional
-- 555-01xx range, card numbers are Luhn-valid test-style numbers, SSNs are merely well-formed.
\set ON_ERROR_STOP on
BEGIN;

-- payload || Luhn check digit.
CREATE FUNCTION pg_temp.luhn_complete(payload text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT payload || ((10 - sum(CASE WHEN (length(payload) - i) % 2 = 0
                                    THEN (d * 2) / 10 + (d * 2) % 10
                                    ELSE d END) % 10) % 10)::text
  FROM (SELECT i, substr(payload, i, 1)::int AS d
        FROM generate_series(1, length(payload)) AS i) AS digits
$$;

CREATE TABLE patients (
  id          integer PRIMARY KEY,
  full_name   text    NOT NULL,
  ssn         text    NOT NULL,
  dob         date    NOT NULL,
  email       text,
  phone       text,
  card_number text,
  mrn         text    NOT NULL UNIQUE,
  notes       text,
  icd10       text
);

INSERT INTO patients
SELECT i,
       n.full_name,
       v.ssn,
       v.dob,
       lower(replace(n.full_name, ' ', '.')) || i || '@example.com',
       v.phone,
       v.card_number,
       v.mrn,
       CASE i % 5
         WHEN 0 THEN 'Pt called from ' || v.phone || ' about a refill; verified DOB '
                     || to_char(v.dob, 'MM/DD/YYYY') || '.'
         WHEN 1 THEN 'Insurer needs SSN ' || v.ssn || ' on the claim; chart ' || v.mrn
                     || ' updated.'
         WHEN 2 THEN 'Dx ' || v.icd10 || '. Follow up in 3 months; summary e-mailed to '
                     || lower(replace(n.full_name, ' ', '.')) || i || '@example.com.'
         WHEN 3 THEN 'Copay charged to card ' || v.card_number || '; receipt sent.'
         ELSE 'No acute distress. Plan reviewed with patient.'
       END,
       v.icd10
FROM generate_series(1, 1000) AS i
CROSS JOIN LATERAL (
  SELECT (ARRAY['Avery', 'Blake', 'Casey', 'Devon', 'Emery', 'Finley', 'Harper', 'Jordan',
                'Kendall', 'Logan', 'Morgan', 'Parker', 'Quinn', 'Riley', 'Rowan', 'Sawyer',
                'Skyler', 'Taylor', 'Reese', 'Dakota'])[1 + i % 20]
         || ' ' ||
         (ARRAY['Abbott', 'Barker', 'Castillo', 'Dalton', 'Ellison', 'Fischer', 'Garrison',
                'Holloway', 'Ibarra', 'Jennings', 'Kowalski', 'Lindqvist', 'Moreno', 'Nakamura',
                'Okafor', 'Pereira', 'Quintero', 'Rasmussen', 'Sandoval', 'Thornton', 'Underwood',
                'Valdez', 'Whitaker', 'Yamamoto', 'Zimmerman'])[1 + (i / 20) % 25] AS full_name
) AS n
CROSS JOIN LATERAL (
  SELECT lpad((100 + (i * 7) % 565)::text, 3, '0') || '-' ||
         lpad((1 + (i * 13) % 99)::text, 2, '0') || '-' ||
         lpad((1 + (i * 37) % 9999)::text, 4, '0')                          AS ssn,
         date '1940-01-01' + (i * 7919) % 25000                               AS dob,
         '+1-' || (ARRAY['212', '312', '415', '617', '713'])[1 + i % 5]
               || '-555-01' || lpad((i % 100)::text, 2, '0')                  AS phone,
         pg_temp.luhn_complete((ARRAY['4000', '5105'])[1 + i % 2]
                               || lpad(((i::bigint * 7919) % 100000000000)::text, 11, '0'))
                                                                              AS card_number,
         'MRN-' || lpad((123000 + i * 17)::text, 8, '0')                      AS mrn,
         (ARRAY['E11.9', 'I10', 'J45.909', 'M54.5', 'F32.A', 'K21.9', 'N39.0', 'E78.5',
                'J06.9', 'Z00.00'])[1 + (i * 3) % 10]                         AS icd10
) AS v;

CREATE TABLE visits (
  id         integer PRIMARY KEY,
  patient_id integer NOT NULL REFERENCES patients (id),
  visit_date date    NOT NULL,
  clinician  text    NOT NULL,
  reason     text,
  icd10      text
);

INSERT INTO visits
SELECT v,
       1 + (v * 7) % 1000,
       date '2023-01-01' + (v * 13) % 700,
       (ARRAY['Dr. A. Example', 'Dr. B. Sample', 'NP C. Placeholder'])[1 + v % 3],
       (ARRAY['annual exam', 'follow-up', 'medication review', 'lab results',
              'acute visit'])[1 + v % 5],
       (ARRAY['E11.9', 'I10', 'J45.909', 'M54.5', 'F32.A', 'K21.9', 'N39.0', 'E78.5',
              'J06.9', 'Z00.00'])[1 + (v * 7) % 10]
FROM generate_series(1, 3000) AS v;

COMMIT;
ANALYZE patients;
ANALYZE visits;
