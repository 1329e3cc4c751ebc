-- The social-insurance register of the demo (vss/social-insurance). Every person here is
-- fictional.
CREATE TABLE insurance_cards (
  card_id TEXT PRIMARY KEY,
  holder_citizen_id TEXT NOT NULL,
  holder_name TEXT NOT NULL,
  birth_date TEXT NOT NULL,
  scheme TEXT NOT NULL,
  valid_from TEXT NOT NULL,
  valid_until TEXT NOT NULL,
  issued_on TEXT NOT NULL,
  UNIQUE (holder_citizen_id, scheme)
);
CREATE TABLE funeral_allowances (
  allowance_id TEXT PRIMARY KEY,
  deceased_citizen_id TEXT NOT NULL UNIQUE,
  deceased_name TEXT NOT NULL,
  death_id TEXT NOT NULL,
  beneficiary_citizen_id TEXT NOT NULL,
  beneficiary_name TEXT NOT NULL,
  amount_vnd INTEGER NOT NULL,
  decided_on TEXT NOT NULL
);
-- Not a dataset: who is insured (contributing or drawing a pension), which decides whether a
-- death opens a funeral allowance.
CREATE TABLE members (
  citizen_id TEXT PRIMARY KEY,
  membership TEXT NOT NULL CHECK (membership IN ('contributor', 'pensioner'))
);
INSERT INTO insurance_cards VALUES
  ('HI-TE1-01-1224000101', '001224000101', 'Nguyen Minh Khoa', '2024-03-02',
   'child under 6, state budget', '2024-03-02', '2030-03-01', '2024-03-08');
INSERT INTO members VALUES
  ('001048001122', 'pensioner'),
  ('001090004567', 'contributor'),
  ('001192004321', 'contributor'),
  ('001090000001', 'contributor');
