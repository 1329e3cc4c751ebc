-- The database of the Hanoi public-service portal (hanoi/portal): the applications citizens
-- submit online, and the messages the portal sends them. Every person here is fictional.
CREATE TABLE applications (
  application_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('birth', 'death')),
  applicant_citizen_id TEXT NOT NULL,
  applicant_name TEXT NOT NULL,
  submitted_at TEXT NOT NULL,
  -- A birth declared.
  child_name TEXT,
  child_sex TEXT,
  child_birth_date TEXT,
  child_birth_place TEXT,
  mother_citizen_id TEXT,
  mother_name TEXT,
  father_citizen_id TEXT,
  father_name TEXT,
  -- A death declared.
  deceased_citizen_id TEXT,
  deceased_name TEXT,
  death_date TEXT,
  death_place TEXT
);
-- Not a dataset: the citizens' inbox, written by the portal's reaction (reactions/portal.sh).
CREATE TABLE notifications (
  notification_id INTEGER PRIMARY KEY,
  citizen_id TEXT NOT NULL,
  application_id TEXT,
  -- The record the message is about; one message per record.
  dataset TEXT NOT NULL,
  record_key TEXT NOT NULL,
  message TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (dataset, record_key)
);
INSERT INTO applications (application_id, kind, applicant_citizen_id, applicant_name,
                          submitted_at, child_name, child_sex, child_birth_date,
                          child_birth_place, mother_citizen_id, mother_name, father_citizen_id,
                          father_name)
VALUES ('HN-2024-000417', 'birth', '001090000001', 'Nguyen Van An', '2024-03-05T09:12:44Z',
        'Nguyen Minh Khoa', 'male', '2024-03-02', 'Hanoi Obstetrics Hospital, Dong Da, Hanoi',
        '001185000002', 'Tran Thi Binh', '001090000001', 'Nguyen Van An');
