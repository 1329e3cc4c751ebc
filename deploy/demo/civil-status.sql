-- The civil-status register of the demo (moj/civil-status). Every person here is fictional.
CREATE TABLE births (
  birth_id TEXT PRIMARY KEY,
  child_citizen_id TEXT NOT NULL,
  child_name TEXT NOT NULL,
  birth_date TEXT NOT NULL,
  birth_province TEXT NOT NULL,
  mother_name TEXT,
  father_name TEXT
);
INSERT INTO births VALUES
  ('B-2024-0001', '001224000101', 'Nguyen Minh Khoa', '2024-03-02', 'hanoi',
   'Nguyen Thi Hoa', 'Nguyen Van Long'),
  ('B-2024-0002', '079224000102', 'Tran Bao Ngoc', '2024-05-17', 'hcmc',
   'Le Thi Mai', 'Tran Quoc Huy'),
  ('B-2024-0003', '001224000103', 'Pham Gia Han', '2024-08-29', 'hanoi',
   'Pham Thi Dung', 'Do Van Tuan');
