package main

import (
	"log/slog"
	"time"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/server"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/user"
)

// accountService builds the account operations (internal/account) that the
// site (openApp → server.Config.Accounts) and the operator commands
// (cliAccounts) share: accounts, roles, reset links and audit events in db;
// sessions listed and revoked through reg (nil for a command that ends no
// session); new passwords hashed by hasher (nil for a command that sets
// none) and judged by strength; clock nil means time.Now, log nil means
// nothing is logged. It is the one place either is built.
func accountService(db *store.DB, reg account.Sessions, hasher account.PasswordHasher, strength account.StrengthJudge,
	clock func() time.Time, log *slog.Logger, counter account.Counter) *account.Service {
	return account.New(account.Deps{Users: db, Roles: db, Resets: db, Audit: db, Sessions: reg, Hasher: hasher,
		Strength: strength, Clock: clock, Log: server.RequestIDLogger(log), Counter: counter})
}

// cliAccounts is accountService for an operator command: one strength
// check at a time (a command judges at most one password), the clock
// time.Now, and no log (the command prints what happened).
func cliAccounts(db *store.DB, reg account.Sessions, hasher account.PasswordHasher) *account.Service {
	return accountService(db, reg, hasher, user.NewStrengthChecker(user.StrengthOptions{MaxConcurrent: 1}), nil, nil, nil)
}
