package sqldialect

import "testing"

func TestRebind(t *testing.T) {
	const q = "UPDATE users SET a = ?, b = 'é' WHERE id = ?"
	if got, want := Rebind(Postgres, q), "UPDATE users SET a = $1, b = 'é' WHERE id = $2"; got != want {
		t.Errorf("postgres: %q, want %q", got, want)
	}
	if got := Rebind(SQLite, q); got != q {
		t.Errorf("sqlite: %q, want unchanged", got)
	}
	if got := Rebind(Postgres, "SELECT 1"); got != "SELECT 1" {
		t.Errorf("no placeholders: %q", got)
	}
}
