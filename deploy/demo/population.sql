-- The population register of the demo (mops/population). Every person here is fictional.
CREATE TABLE residents (
  citizen_id TEXT PRIMARY KEY,
  full_name TEXT NOT NULL,
  birth_date TEXT NOT NULL,
  sex TEXT NOT NULL,
  province TEXT NOT NULL,
  address TEXT NOT NULL,
  residence_status TEXT NOT NULL CHECK (residence_status IN ('active', 'cancelled')),
  residence_registered_on TEXT NOT NULL,
  residence_cancelled_on TEXT,
  cancellation_reference TEXT
);
INSERT INTO residents (citizen_id, full_name, birth_date, sex, province, address,
                       residence_status, residence_registered_on)
VALUES
  -- The parents of the child whose birth the demo declares.
  ('001192004321', 'Le Thi Lan', '1992-06-18', 'female', 'hanoi', '18 Hang Bong, Hoan Kiem',
   'active', '2018-09-10'),
  ('001090004567', 'Tran Van Minh', '1990-02-03', 'male', 'hanoi', '18 Hang Bong, Hoan Kiem',
   'active', '2018-09-10'),
  -- The father's father, whose death the demo declares.
  ('001048001122', 'Tran Van Hung', '1948-11-25', 'male', 'hanoi', '27 Thuy Khue, Tay Ho',
   'active', '1975-05-02'),
  ('001090000001', 'Nguyen Van An', '1990-04-12', 'male', 'hanoi', '12 Hang Bac, Hoan Kiem',
   'active', '2012-01-15'),
  ('001185000002', 'Tran Thi Binh', '1985-11-30', 'female', 'hanoi', '12 Hang Bac, Hoan Kiem',
   'active', '2012-01-15'),
  ('001224000101', 'Nguyen Minh Khoa', '2024-03-02', 'male', 'hanoi', '12 Hang Bac, Hoan Kiem',
   'active', '2024-03-07'),
  ('079201000003', 'Le Van Cuong', '2001-01-05', 'male', 'hcmc', '45 Nguyen Hue, District 1',
   'active', '2019-08-20');
