-- The civil-status register of the demo (moj/civil-status). Every person here is fictional.
CREATE TABLE births (
  birth_id TEXT PRIMARY KEY,
  application_id TEXT UNIQUE,
  child_citizen_id TEXT NOT NULL UNIQUE,
  child_name TEXT NOT NULL,
  child_sex TEXT NOT NULL,
  birth_date TEXT NOT NULL,
  birth_place TEXT NOT NULL,
  mother_citizen_id TEXT,
  mother_name TEXT,
  father_citizen_id TEXT,
  father_name TEXT,
  registered_at TEXT NOT NULL
);
CREATE TABLE deaths (
  death_id TEXT PRIMARY KEY,
  application_id TEXT UNIQUE,
  deceased_citizen_id TEXT NOT NULL UNIQUE,
  deceased_name TEXT NOT NULL,
  death_date TEXT NOT NULL,
  death_place TEXT NOT NULL,
  declarant_citizen_id TEXT NOT NULL,
  declarant_name TEXT NOT NULL,
  registered_at TEXT NOT NULL
);
INSERT INTO births VALUES
  ('B-2024-0001', 'HN-2024-000417', '001224000101', 'Nguyen Minh Khoa', 'male', '2024-03-02',
   'Hanoi Obstetrics Hospital, Dong Da, Hanoi', '001185000002', 'Tran Thi Binh',
   '001090000001', 'Nguyen Van An', '2024-03-06T08:30:00Z'),
  ('B-2024-0002', NULL, '001324000102', 'Pham Gia Han', 'female', '2024-08-29',
   'Bach Mai Hospital, Dong Da, Hanoi', '001179000004', 'Pham Thi Dung', NULL, NULL,
   '2024-09-03T10:05:00Z');
