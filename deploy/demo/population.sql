-- The population register of the demo (mops/population). Every person here is fictional.
CREATE TABLE residents (
  citizen_id TEXT PRIMARY KEY,
  full_name TEXT NOT NULL,
  birth_date TEXT NOT NULL,
  province TEXT NOT NULL,
  address TEXT,
  household_size INTEGER
);
INSERT INTO residents VALUES
  ('001090000001', 'Nguyen Van An', '1990-04-12', 'hanoi', '12 Hang Bac, Hoan Kiem', 4),
  ('001085000002', 'Tran Thi Binh', '1985-11-30', 'hanoi', '3 Ly Thuong Kiet, Hoan Kiem', 2),
  ('079001000003', 'Le Van Cuong', '2001-01-05', 'hcmc', '45 Nguyen Hue, District 1', 1),
  ('001079000004', 'Pham Thi Dung', '1979-07-21', 'hanoi', '8 Tran Hung Dao, Hoan Kiem', 5),
  ('001224000101', 'Nguyen Minh Khoa', '2024-03-02', 'hanoi', '12 Hang Bac, Hoan Kiem', 4);
